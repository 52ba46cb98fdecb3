import type { ProviderModel } from '../repositories/chat-upstream';

/**
 * The provider's model list as `GET /v1/models` answers it: asked at most once per `ttlMs` (tools
 * that speak OpenAI, model pickers among them, ask for it at every start), one request at a time,
 * and the last list known kept when the provider fails to give a new one.
 */
export class ModelList {
  private known: { at: number; models: ProviderModel[] } | null = null;
  private asking: Promise<ProviderModel[]> | null = null;

  constructor(
    private readonly ask: () => Promise<ProviderModel[]>,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<ProviderModel[]> {
    if (this.known && this.now() - this.known.at < this.ttlMs) return this.known.models;
    this.asking ??= this.ask()
      .then((models) => {
        this.known = { at: this.now(), models };
        return models;
      })
      .finally(() => (this.asking = null));
    try {
      return await this.asking;
    } catch (err) {
      if (this.known) return this.known.models;
      throw err;
    }
  }
}
