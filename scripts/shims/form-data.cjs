// The SDK loads form-data for multipart requests only; no CSIP action the project calls is multipart,
// so the bundle carries this stand-in instead (saves ~140 KiB with mime-db).
module.exports = class FormData {
  constructor() {
    throw new Error("multipart requests are not supported by the csip-scan bundle");
  }
};
