/**
 * The user content of every chat completion call since the last reset, for `/sim/calls`. Memory is
 * bounded: past `maxChars` the oldest contents are forgotten (a benchmark sends thousands of large
 * documents), while the total count stays exact.
 */
export class CallLog {
  private contents: string[] = [];
  private head = 0;
  private chars = 0;
  private total = 0;

  constructor(private readonly maxChars = 50_000_000) {}

  record(userContent: string): void {
    this.total++;
    this.contents.push(userContent);
    this.chars += userContent.length;
    while (this.chars > this.maxChars && this.head < this.contents.length - 1) {
      this.chars -= this.contents[this.head].length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.contents.length) {
      this.contents = this.contents.slice(this.head);
      this.head = 0;
    }
  }

  /** Calls whose user content contains `text`; all calls when `text` is undefined. */
  count(text?: string): number {
    if (text === undefined) return this.total;
    let n = 0;
    for (let i = this.head; i < this.contents.length; i++) if (this.contents[i].includes(text)) n++;
    return n;
  }

  reset(): void {
    this.contents = [];
    this.head = 0;
    this.chars = 0;
    this.total = 0;
  }
}
