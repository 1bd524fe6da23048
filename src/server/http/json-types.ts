/**
 * The media types whose request bodies are JSON: `application/json` and JSON:API's
 * `application/vnd.api+json` (what DL's Python client sends on every request), parameters
 * allowed. Any other type is answered 415.
 * @internal
 */
export const JSON_TYPES = ['application/json', 'application/vnd.api+json'];
