// postject ships no type declarations; this is the part of its API build-sea.ts uses.
declare module 'postject' {
  export interface InjectOptions {
    /** The sentinel string whose trailing ":0" is flipped to ":1" once injected. */
    sentinelFuse?: string;
    machoSegmentName?: string;
    overwrite?: boolean;
  }
  export function inject(filename: string, resourceName: string, resourceData: Buffer, options?: InjectOptions): Promise<void>;
}
