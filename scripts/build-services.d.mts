// Types of scripts/build-services.mjs for the TypeScript scripts that call it.
export declare const ROOT: string;
export declare const DIST: string;
export declare function serviceNames(): string[];
export declare function serviceEntry(name: string): string;
export declare function isBuildFresh(): Promise<boolean>;
export declare function buildServices(options?: { force?: boolean; quiet?: boolean }): Promise<{ built: boolean; reason: string; ms: number }>;
