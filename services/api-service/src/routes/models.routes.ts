import { Router, type ErrorRequestHandler, type Request } from 'express';
import type { Logger } from 'pino';
import type { ModelList } from '../domain/model-list';
import { upstreamFailure } from '../domain/upstream-policy';
import type { ProviderModel } from '../repositories/chat-upstream';
import { ANTHROPIC_API_KEY_HEADER, ANTHROPIC_MESSAGES } from './anthropic-messages.routes';
import { authenticate, keyFromHeader, type AuthenticateDeps } from './auth.middleware';
import { dialectErrorHandler, OPENAI_CHAT } from './chat-completions.routes';

export const MODELS_PATH = '/v1/models';

export interface ModelsRouteDeps extends AuthenticateDeps {
  models: ModelList;
  logger: Logger;
}

/** Anthropic's SDK says who it is with `anthropic-version`; its list has its own shape. */
const fromAnthropic = (req: Request) => req.header('anthropic-version') !== undefined;

const anthropicList = (models: ProviderModel[]) => ({
  data: models.map((m) => ({ type: 'model', id: m.id, display_name: m.id, created_at: new Date(m.created * 1000).toISOString() })),
  has_more: false,
  first_id: models[0]?.id ?? null,
  last_id: models[models.length - 1]?.id ?? null,
});

/**
 * `GET /v1/models`: the provider's models, for the tools that list them before their first call
 * (model pickers, OpenAI-compatible clients at start), in OpenAI's shape, or Anthropic's for its
 * SDK. A user's key is needed, as for the calls themselves (`Authorization`, or `x-api-key`);
 * errors in the asking SDK's shape.
 */
export function modelsRoutes(deps: ModelsRouteDeps): Router {
  const router = Router();
  router.get(MODELS_PATH, keyFromHeader(ANTHROPIC_API_KEY_HEADER), authenticate(deps), async (req, res) => {
    const models = await deps.models.get().catch((err: unknown) => {
      throw upstreamFailure(err);
    });
    res.json(fromAnthropic(req) ? anthropicList(models) : { object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: m.owned_by })) });
  });
  const openAiErrors = dialectErrorHandler(OPENAI_CHAT, deps.logger);
  const anthropicErrors = dialectErrorHandler(ANTHROPIC_MESSAGES, deps.logger);
  const errors: ErrorRequestHandler = (err, req, res, next) => (fromAnthropic(req) ? anthropicErrors : openAiErrors)(err, req, res, next);
  router.use(MODELS_PATH, errors);
  return router;
}
