import * as z from "zod";
import { EventError } from "../errors.ts";

/**
 * A request to a function's URL, as SCF hands it to an event function: `{body, headers, httpMethod, path,
 * queryString}` (https://cloud.tencent.com/document/product/583/96099, the English 583/69491; "compatible
 * with the API gateway's event, without headerParameters, isBase64Encoded, pathParameters,
 * queryStringParameters and requestContext"). The document's example has string values only; a
 * repeated query parameter is accepted as a list (unknown: local/cloud/ASSUMPTIONS.md), and a body or
 * a header map left out reads as empty.
 */
export const FunctionUrlEventSchema = z.object({
  httpMethod: z.string().min(1),
  path: z.string().startsWith("/"),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  queryString: z.record(z.string(), z.union([z.string(), z.array(z.string())])).nullable().default({}),
  body: z.string().nullable().optional(),
});
export type FunctionUrlEvent = z.infer<typeof FunctionUrlEventSchema>;

/**
 * What the function answers, which SCF turns into the HTTP answer: `{statusCode, headers, body,
 * isBase64Encoded}` (583/96099, "响应参数"). Headers are single values.
 */
export interface FunctionUrlAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

/** Validates a Function URL event; throws EventError with the path of the first bad field. */
export function parseFunctionUrlEvent(event: unknown): FunctionUrlEvent {
  const parsed = FunctionUrlEventSchema.safeParse(event, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  throw new EventError(path, issue.code === "invalid_type" && issue.input === undefined && issue.path.length > 0 ? "is required" : issue.message);
}
