/**
 * Whether a results page link opens as a page or downloads, judged from the headers its host answers: the
 * check `csip-scan doctor` makes of a message's link, since whether a domain renders HTML is a fact of the
 * account (COS's default domain of a bucket made after 2024-01-01 forces a download, 436/57456; SCF's
 * Function URL domain documents nothing either way) that only a request shows.
 */

/** What a browser does with the link, as far as the headers tell. */
export type PageOpening =
  /** It shows the page. */
  | "page"
  /** It saves a file instead (`Content-Disposition: attachment`, `x-cos-force-download`, a binary type). */
  | "download"
  /** It shows something, but not the page as HTML (another text type, which `nosniff` keeps from being read as HTML). */
  | "other"
  /** No page: an error status, a redirect, or no answer. */
  | "error";

export interface PageLinkCheck {
  opens: PageOpening;
  /** The answer's status; undefined when none came. */
  status?: number;
  /** The headers that decided, as answered. */
  headers: { contentType?: string; contentDisposition?: string; forceDownload?: string; contentSecurityPolicy?: string };
  /** Why, in one sentence that names no part of the link (its query holds a signature). */
  reason: string;
}

const TYPES_A_BROWSER_DOWNLOADS = /^(application\/(octet-stream|zip|x-download|force-download)|binary\/)/i;

/**
 * Fetches the link (GET, as a browser does: a presigned link is signed for GET only; redirects not
 * followed) and reads the answer's headers, without reading the page. Never throws: a failure is an
 * answer of its own (`error`). The link itself is never part of the result.
 */
export async function pageLinkOpens(url: string, options: { timeoutMs?: number } = {}): Promise<PageLinkCheck> {
  let response: Response;
  try {
    response = await fetch(url, { method: "GET", redirect: "manual", headers: { accept: "text/html" }, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return { opens: "error", headers: {}, reason: `no answer (${cause})` };
  }
  await response.body?.cancel().catch(() => undefined);
  const get = (name: string): string | undefined => response.headers.get(name) ?? undefined;
  const headers = {
    ...(get("content-type") ? { contentType: get("content-type")! } : {}),
    ...(get("content-disposition") ? { contentDisposition: get("content-disposition")! } : {}),
    ...(get("x-cos-force-download") ? { forceDownload: get("x-cos-force-download")! } : {}),
    ...(get("content-security-policy") ? { contentSecurityPolicy: get("content-security-policy")! } : {}),
  };
  const status = response.status;
  if (status >= 300 && status < 400) return { opens: "error", status, headers, reason: `a redirect (${status}), not the page` };
  if (status < 200 || status >= 300) return { opens: "error", status, headers, reason: `answered ${status}: an expired or changed link, or no page` };
  if (/^\s*attachment/i.test(headers.contentDisposition ?? "")) return { opens: "download", status, headers, reason: "Content-Disposition: attachment makes the browser save it as a file" };
  if (headers.forceDownload?.toLowerCase() === "true") return { opens: "download", status, headers, reason: "x-cos-force-download: true (COS's default domain) makes the browser save it as a file" };
  const type = headers.contentType ?? "";
  if (TYPES_A_BROWSER_DOWNLOADS.test(type)) return { opens: "download", status, headers, reason: `Content-Type ${type} makes the browser save it as a file` };
  if (!/^text\/html\b/i.test(type)) return { opens: "other", status, headers, reason: `Content-Type ${type || "(none)"} is not HTML: the browser shows it as it is, not as the page` };
  return { opens: "page", status, headers, reason: "text/html without Content-Disposition: the browser shows the page" };
}
