// The project's client library: what an app needs to talk to a MegaComet
// server (the app connection) and to let its subscribers in (tokens).

export { signToken, verifyToken } from '../protocol/token.js';
export { AppClient, AppRequestError, SendOutcomeUnknownError } from './app-client.js';
export type { AppClientOptions, AppClientState, AppReply, ClientStatus, GroupInfo, PublishOutcome, ServerStats } from './app-client.js';
export { GROUP_NAME_RULE, isValidGroupName, MAX_GROUP_NAME_BYTES } from '../protocol/group-name.js';
export type { StatsReply, ThreadStats } from '../protocol/stats.js';
export { APP_ERRORS, HTTP_ERRORS, type AppErrorCode, type HttpErrorCode } from '../protocol/errors.js';
