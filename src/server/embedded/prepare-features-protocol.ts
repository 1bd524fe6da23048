/** What the main thread sends the feature-upload worker: the body, and how many features the product has. @internal */
export interface PrepareRequest {
  readonly body: Uint8Array;
  readonly countBefore: number;
}

/** What it answers: the lines to append, or why nothing may be. @internal */
export type PrepareReply =
  | { readonly ok: true; readonly count: number; readonly chunks: Uint8Array[] }
  | { readonly ok: false; readonly message: string };
