export declare const INTEGRATION_MARKERS: RegExp;
export declare function testSuites(root?: string): { unit: string[]; integration: string[] };
