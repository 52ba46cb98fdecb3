/**
 * How a streamed answer is cut into chunks: one per word with the whitespace after it, as a real
 * model streams a few characters at a time. Joined back, the pieces are exactly `content`.
 * Linear in the content's length (a text without whitespace is one piece).
 */
export function streamPieces(content: string): string[] {
  if (content.length === 0) return [];
  return content.match(/\s*\S+\s*|\s+/g) ?? [content];
}
