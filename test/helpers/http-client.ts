// A raw HTTP/1.1 client over node:net. node:http would normalise exactly what
// these tests need to see (header bytes, framing, pipelining, the server
// closing a connection), so requests are written as exact bytes and responses
// are framed here by hand: status line, headers, Content-Length body.
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';

export interface HttpResponse {
  /** e.g. "HTTP/1.1" */
  version: string;
  status: number;
  reason: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Header lines as sent, in order. */
  rawHeaders: Array<[string, string]>;
  body: Buffer;
  /** body as UTF-8 */
  text: string;
  /** The whole response as received (head and body). */
  raw: Buffer;
  /** Date.now() when the last byte of the response was parsed. */
  receivedAt: number;
}

export interface ReadOptions {
  /** The request was HEAD: the response has no body whatever Content-Length says. */
  head?: boolean;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

export interface CloseInfo {
  /** Date.now() when the socket closed. */
  at: number;
  /** The socket error that ended it (e.g. ECONNRESET), if any. */
  errorCode?: string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Builds a request head: `METHOD target HTTP/1.1`, Host, then `headers`, then the blank line. */
export function requestBytes(method: string, target: string, headers: Record<string, string> = {}, version = 'HTTP/1.1'): string {
  let head = `${method} ${target} ${version}\r\nHost: 127.0.0.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

export class RawHttpConnection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private closeInfo: CloseInfo | undefined;
  private errorCode: string | undefined;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<CloseInfo>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errorCode = err.code ?? err.message;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closeInfo = this.errorCode === undefined ? { at: Date.now() } : { at: Date.now(), errorCode: this.errorCode };
        this.wake();
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens a connection to 127.0.0.1:`port`; if `t` is given, it is destroyed in t's teardown. */
  static open(port: number, t?: Test, host = '127.0.0.1'): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.setNoDelay(true);
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        const conn = new RawHttpConnection(socket);
        t?.teardown(() => conn.destroy());
        resolve(conn);
      });
    });
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Bytes received and not yet consumed by readResponse. */
  get pending(): Buffer {
    return this.buffer;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /**
   * Writes `data` and resolves once it has been handed to the kernel: on
   * loopback it is then in the server's receive queue, which is what an
   * ordering barrier (EngineHarness.barrier) needs.
   */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Writes `METHOD target` with `headers` and reads the response. */
  async request(method: string, target: string, headers: Record<string, string> = {}, options: ReadOptions = {}): Promise<HttpResponse> {
    this.write(requestBytes(method, target, headers));
    return this.readResponse({ head: method === 'HEAD', ...options });
  }

  get(target: string, headers: Record<string, string> = {}, options: ReadOptions = {}): Promise<HttpResponse> {
    return this.request('GET', target, headers, options);
  }

  /** Reads the next response off the connection (responses are consumed in order, as pipelining requires). */
  async readResponse(options: ReadOptions = {}): Promise<HttpResponse> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.tryParse(options.head === true, false);
      if (parsed !== undefined) return parsed;
      if (this.closeInfo !== undefined) {
        const atClose = this.tryParse(options.head === true, true);
        if (atClose !== undefined) return atClose;
        throw new Error(
          `connection closed${this.closeInfo.errorCode ? ` (${this.closeInfo.errorCode})` : ''} before a complete response; ` +
            `received ${JSON.stringify(this.buffer.toString('latin1'))}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no complete response within ${timeoutMs} ms; received ${JSON.stringify(this.buffer.toString('latin1'))}`);
      }
      await this.nextEvent(left);
    }
  }

  /**
   * Resolves with the close if the server closes the connection within
   * `timeoutMs`, or with undefined if it is still open then. The default is a
   * generous deadline for a close that should come at once; a test that wants
   * to show the connection stays open should prove it with a later answer on
   * it, not with a short wait here.
   */
  async waitClosed(timeoutMs = 10_000): Promise<CloseInfo | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const still = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const result = await Promise.race([this.closed, still]);
    clearTimeout(timer);
    return result;
  }

  /**
   * Half-closes our side: the server sees EOF. Resolves once the FIN has been
   * sent (shutdown(2) has returned), so an ordering barrier after it orders
   * the server's handling of the FIN too.
   */
  end(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.end(() => resolve());
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Parses one response from the front of the buffer, or returns undefined if it is not complete yet. */
  private tryParse(isHead: boolean, atClose: boolean): HttpResponse | undefined {
    const end = this.buffer.indexOf(CRLFCRLF);
    if (end < 0) return undefined;
    const headText = this.buffer.subarray(0, end).toString('latin1');
    const [statusLine = '', ...lines] = headText.split('\r\n');
    const sm = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (sm === null) throw new Error(`malformed status line ${JSON.stringify(statusLine)}`);
    const status = Number(sm[2]);
    const rawHeaders: Array<[string, string]> = [];
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line)} in ${JSON.stringify(headText)}`);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      const key = name.toLowerCase();
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    }
    const bodyStart = end + CRLFCRLF.length;
    let bodyLength: number;
    const noBody = isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      bodyLength = 0;
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d+$/.test(headers['content-length'])) throw new Error(`bad Content-Length ${headers['content-length']}`);
      bodyLength = Number(headers['content-length']);
    } else if (headers['transfer-encoding'] !== undefined) {
      throw new Error(`chunked responses are not expected from this server: ${JSON.stringify(headText)}`);
    } else {
      // No framing: the body runs to the close.
      if (!atClose) return undefined;
      bodyLength = this.buffer.length - bodyStart;
    }
    if (this.buffer.length < bodyStart + bodyLength) return undefined;
    const raw = this.buffer.subarray(0, bodyStart + bodyLength);
    const body = raw.subarray(bodyStart);
    this.buffer = this.buffer.subarray(bodyStart + bodyLength);
    return {
      version: sm[1] ?? '',
      status,
      reason: sm[3] ?? '',
      headers,
      rawHeaders,
      body,
      text: body.toString('utf8'),
      raw,
      receivedAt: Date.now(),
    };
  }
}

/** One request on a fresh connection, which is then closed. */
export async function httpRequest(
  t: Test,
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  options: ReadOptions = {},
): Promise<HttpResponse> {
  const conn = await RawHttpConnection.open(port, t);
  try {
    return await conn.request(method, target, headers, options);
  } finally {
    conn.destroy();
  }
}

export function httpGet(t: Test, port: number, target: string, headers: Record<string, string> = {}, options: ReadOptions = {}): Promise<HttpResponse> {
  return httpRequest(t, port, 'GET', target, headers, options);
}
