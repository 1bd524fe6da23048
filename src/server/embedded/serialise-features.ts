import { BadRequestError } from '../../client/http-errors.js';

/** The text of this many characters is turned into bytes and written at once. */
const WRITE_CHUNK = 4 * 1024 * 1024;

/** The features as newline-terminated JSON lines, in buffers of about {@link WRITE_CHUNK} characters. @internal */
export function serialise(features: readonly Record<string, unknown>[], countBefore: number): Buffer[] {
  const chunks: Buffer[] = [];
  let text = '';
  for (let i = 0; i < features.length; i++) {
    const feature = features[i]!;
    const complete = feature['id'] !== undefined && feature['geometry'] !== undefined && feature['properties'] !== undefined;
    const stored = complete
      ? feature
      : {
          ...feature,
          id: feature['id'] ?? countBefore + i + 1,
          geometry: feature['geometry'] ?? null,
          properties: feature['properties'] ?? null,
        };
    let line: string;
    try {
      line = JSON.stringify(stored);
    } catch (error) {
      throw new BadRequestError(`Feature ${i} was refused, nothing was added: it cannot be written as JSON (${(error as Error).message})`);
    }
    text += `${line}\n`;
    if (text.length >= WRITE_CHUNK) {
      chunks.push(Buffer.from(text, 'utf8'));
      text = '';
    }
  }
  if (text !== '') chunks.push(Buffer.from(text, 'utf8'));
  return chunks;
}

