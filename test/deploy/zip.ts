// The zip reader lives with the SCF stand-in, which unpacks a deployed function's code to run it.
export { readZip } from "../../local/cloud/zip.ts";
