import { generateKeyPairSync, randomBytes, sign } from "node:crypto";

/**
 * A self-signed certificate for the stand-in's HTTPS listener, made in this process (no openssl, no file):
 * an ECDSA P-256 key and an X.509 v3 certificate for the names given, valid one day. Function URLs are
 * https:// (583/96099); a browser opening one through the stand-in is told to accept this certificate
 * (Chromium's --ignore-certificate-errors), which nothing outside a test should do.
 */

/** DER: a tag, its length, its content. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER of the bytes given. */
const integer = (bytes: Buffer): Buffer => tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);

/** UTCTime, `YYMMDDHHMMSSZ`. */
const utcTime = (ms: number): Buffer => tlv(0x17, Buffer.from(new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));

const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

/** The key and certificate, PEM, for `names` (DNS names, `*.` wildcards allowed). */
export function selfSignedCertificate(names: readonly string[], now = Date.now()): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const name = sequence(tlv(0x31, sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from("csip-scan cloud stand-in")))));
  const altNames = sequence(...names.map((n) => tlv(0x82, Buffer.from(n))));
  const extensions = tlv(0xa3, sequence(sequence(oid("2.5.29.17"), tlv(0x04, altNames))));
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(randomBytes(12)),
    ECDSA_WITH_SHA256,
    name,
    sequence(utcTime(now - 60_000), utcTime(now + 86_400_000)),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = sign("sha256", tbs, privateKey);
  const der = sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const pem = (label: string, body: Buffer): string => `-----BEGIN ${label}-----\n${body.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;
  return { key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), cert: pem("CERTIFICATE", der) };
}
