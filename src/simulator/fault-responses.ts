import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FaultAction } from './faults';
import { onAnswered, readBody, send, streamed, writeResponse } from './http';
import { GATEWAY_STATUSES, errorBody } from './unconfirmed';

/** Chunks of a `hugeBody` answer. */
const STREAM_CHUNK_BYTES = 64 * 1024;
/** Chunks written back to back before a `hugeBody` answer lets other work run, when the socket takes them all. */
const CHUNKS_PER_TURN = 16;
/** The largest chunk of a `trickle` answer. */
const MAX_TRICKLE_CHUNK_BYTES = 16 * 1024;
const DEFAULT_TRICKLE_BYTES = 1024 * 1024;

const ITEMS_PREFIX = '{"items":[';
const ITEMS_SUFFIX = ']}';
const ITEM_DIGITS = 12;
const item = (i: number) => {
  const n = String(i + 1).padStart(ITEM_DIGITS, '0');
  return `{"id":"1fe0b0d1-0000-4000-8000-${n}","name":"Item ${n}"}`;
};
const ITEM_BYTES = item(0).length;

/**
 * Answers as a fault says instead of handling the request: destroys the socket, quotes the request back, streams a
 * huge or slow body, or answers with a status. Any other action does nothing here.
 */
export async function injectFault(req: IncomingMessage, res: ServerResponse, action: FaultAction): Promise<void> {
  switch (action.type) {
    case 'reset':
      req.socket.destroy();
      onAnswered.get(res)?.();
      return;
    case 'echo':
      return echo(req, res, action);
    case 'hugeBody':
      return streamHugeBody(res, action.status ?? 200, new ItemsBody(action.bytes));
    case 'trickle':
      return trickle(res, action.status ?? 200, new ItemsBody(action.totalBytes ?? DEFAULT_TRICKLE_BYTES), action);
    case 'status':
      break;
    default:
      return;
  }
  const headers: Record<string, string> = {};
  if (action.retryAfterSeconds !== undefined) headers['retry-after'] = String(action.retryAfterSeconds);
  if (!(action.transactionId ?? !GATEWAY_STATUSES.has(action.status))) {
    res.removeHeader('citrix-transactionId');
    res.removeHeader('X-Cws-TransactionId');
  }
  const body =
    action.body ??
    errorBody(action.status, {
      shape: action.shape,
      retryDelaySeconds: action.retryDelaySeconds,
      retryDelayAs: action.retryDelayAs,
    });
  if (typeof body === 'string') writeResponse(res, action.status, body, 'text/plain; charset=utf-8', headers);
  else send(res, action.status, body, headers);
}

/**
 * `{"items":[{"id":"…","name":"…"},…]}` of exactly `total` bytes (ASCII), generated as it is read: items up to the
 * last one that fits, then spaces. A total under 12 bytes gives the start of `{"items":[]}`.
 */
class ItemsBody {
  private readonly items: number;
  private readonly padding: number;
  /** 0: the prefix is next, 1: items, 2: padding, 3: the suffix, 4: done. */
  private stage = 0;
  private next = 0;
  private sent = 0;
  private pending = '';

  constructor(readonly total: number) {
    const room = total - ITEMS_PREFIX.length - ITEMS_SUFFIX.length;
    this.items = room < ITEM_BYTES ? 0 : Math.floor((room + 1) / (ITEM_BYTES + 1));
    this.padding = Math.max(0, room - (this.items === 0 ? 0 : this.items * (ITEM_BYTES + 1) - 1));
  }

  get remaining(): number {
    return this.total - this.sent;
  }

  /** The next `max` bytes at most; '' once all are read. */
  read(max: number): string {
    const size = Math.min(max, this.remaining);
    while (this.pending.length < size) {
      const more = this.produce();
      if (more === undefined) break;
      this.pending += more;
    }
    const chunk = this.pending.slice(0, size);
    this.pending = this.pending.slice(size);
    this.sent += chunk.length;
    return chunk;
  }

  private produce(): string | undefined {
    switch (this.stage) {
      case 0:
        this.stage = 1;
        return ITEMS_PREFIX;
      case 1: {
        if (this.next < this.items) {
          // About a chunk's worth of items, each after a comma but the first.
          const end = Math.min(this.items, this.next + Math.ceil(STREAM_CHUNK_BYTES / ITEM_BYTES));
          const batch: string[] = [];
          for (let i = this.next; i < end; i++) batch.push(i === 0 ? item(i) : `,${item(i)}`);
          this.next = end;
          return batch.join('');
        }
        this.stage = 2;
        return '';
      }
      case 2:
        this.stage = 3;
        return ' '.repeat(this.padding);
      case 3:
        this.stage = 4;
        return ITEMS_SUFFIX;
      default:
        return undefined;
    }
  }
}
/** The request quoted back, as a misconfigured proxy's or WAF's error page does. */
async function echo(
  req: IncomingMessage,
  res: ServerResponse,
  action: Extract<FaultAction, { type: 'echo' }>,
): Promise<void> {
  const body = await readBody(req);
  const headers: Record<string, string> = {};
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const [name = '', value = ''] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    lines.push(`${name}: ${value}`);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const text = `${lines.join('\r\n')}\r\n\r\n${body}`;
  if (action.json) send(res, action.status, { message: text, request: { headers, body } });
  else writeResponse(res, action.status, text, 'text/plain; charset=utf-8', {});
}

/**
 * Starts a streamed answer: the request is logged when streaming stops (`finish` below) rather than on 'close', so
 * that the log shows every byte written.
 */
function startStream(res: ServerResponse, status: number): { closed: () => boolean; finish: () => void } | undefined {
  if (res.headersSent || res.destroyed) return undefined;
  const record = onAnswered.get(res);
  if (record) res.off('close', record);
  let closed = false;
  res.once('close', () => (closed = true));
  streamed.set(res, 0);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.flushHeaders();
  return {
    closed: () => closed || res.destroyed,
    finish: () => {
      if (!closed) res.end();
      record?.();
    },
  };
}

/** Writes `body` as fast as the client reads it, one chunk at a time; stops when the client goes away. */
async function streamHugeBody(res: ServerResponse, status: number, body: ItemsBody): Promise<void> {
  const stream = startStream(res, status);
  if (!stream) return;
  try {
    for (let chunks = 1; body.remaining > 0 && !stream.closed(); chunks++) {
      const chunk = body.read(STREAM_CHUNK_BYTES);
      streamed.set(res, (streamed.get(res) ?? 0) + chunk.length);
      if (!res.write(chunk)) await drainedOrClosed(res);
      // Lets other requests in even when the socket never pushes back (a HEAD answer, a fast reader).
      else if (chunks % CHUNKS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    stream.finish();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes `body` at `bytesPerSecond` in small chunks, on a timer that stops when the body is out or the client goes. */
function trickle(
  res: ServerResponse,
  status: number,
  body: ItemsBody,
  { bytesPerSecond }: { bytesPerSecond: number },
): Promise<void> {
  const stream = startStream(res, status);
  if (!stream) return Promise.resolve();
  // About 256 bytes a tick, ticking between every 20 ms and every second.
  const intervalMs = Math.min(1000, Math.max(20, Math.round((256 * 1000) / bytesPerSecond)));
  const startedMs = performance.now();
  return new Promise((resolve) => {
    let waiting = false;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      res.off('close', stop);
      stream.finish();
      resolve();
    };
    const tick = () => {
      if (stream.closed()) return stop();
      if (waiting) return;
      const due = Math.floor(((performance.now() - startedMs) * bytesPerSecond) / 1000) - (body.total - body.remaining);
      if (due <= 0) return;
      const chunk = body.read(Math.min(due, MAX_TRICKLE_CHUNK_BYTES));
      streamed.set(res, (streamed.get(res) ?? 0) + chunk.length);
      if (!res.write(chunk)) {
        waiting = true;
        res.once('drain', () => (waiting = false));
      }
      if (body.remaining === 0) stop();
    };
    const timer = setInterval(tick, intervalMs);
    res.once('close', stop);
    if (body.remaining === 0) stop();
  });
}
