import { UserError } from '../../errors.ts';
import { log } from '../../log.ts';
import { readSecret, type SecretRef } from '../../interop/secrets.ts';

/**
 * How to reach an openIMIS instance: its base URL (`https://imis.example.org`, the GraphQL
 * endpoint is `{url}/api/graphql`) and a service user whose password is named by where it is
 * (`{ env: 'OPENIMIS_PASSWORD' }` or `{ file: '/run/secrets/openimis' }`), never by its value.
 */
export interface OpenImisConnection {
  url: string;
  username: string;
  password: SecretRef;
  /** Per request. */
  timeoutMs?: number;
  /** Further attempts after the first, for network errors, timeouts, 429 and 5xx. */
  retries?: number;
  /** First back-off; doubled each retry. */
  backoffMs?: number;
}

export interface GraphqlAnswer<T> {
  data: T;
  /** The registry's clock (HTTP Date) when it answered, if it said. */
  serverDate?: Date;
}

export interface OpenImisClient {
  /** `{url}/api/graphql`. */
  readonly endpoint: string;
  /** Obtains a token with `tokenAuth`; a refused password is a UserError naming the user. */
  authenticate(): Promise<void>;
  /** Runs a query with the token; a token that expired meanwhile is renewed once and the query re-sent. */
  query<T>(query: string, variables?: Record<string, unknown>): Promise<GraphqlAnswer<T>>;
}

const DEFAULTS = { timeoutMs: 60_000, retries: 4, backoffMs: 500 };

// graphql_jwt's words for a token past its lifetime (JWT_EXPIRATION_DELTA, 5 minutes by default in
// openIMIS): "Signature has expired". A 401 is treated the same way.
const EXPIRED = /signature has expired|token (has )?expired/i;
const NO_PERMISSION = /permission|unauthori[sz]ed|not authenticated|login required/i;

/**
 * A GraphQL client for openIMIS over plain fetch: POST `{query, variables}` to `{url}/api/graphql`,
 * `Authorization: Bearer <JWT>` from `mutation tokenAuth(username, password) { token }` (graphql_jwt,
 * as openIMIS's openimis-be-core_py wires it). The password is read at each authentication (so a
 * rotated secret needs no restart) and never appears in a log or an error: any text the server
 * sends back is scrubbed of it.
 *
 * ```ts
 * const client = openImisClient({ url: 'https://imis.example.org', username: 'asp', password: { env: 'OPENIMIS_PASSWORD' } })
 * await client.authenticate()
 * const { data } = await client.query('{ benefitPlan(first: 1) { totalCount } }')
 * ```
 */
export function openImisClient(connection: OpenImisConnection): OpenImisClient {
  const o = {
    timeoutMs: connection.timeoutMs ?? DEFAULTS.timeoutMs,
    retries: connection.retries ?? DEFAULTS.retries,
    backoffMs: connection.backoffMs ?? DEFAULTS.backoffMs,
  };
  const endpoint = graphqlEndpoint(connection.url);
  let token: string | undefined;
  let password = '';
  const scrub = (text: string) => (password ? text.split(password).join('***') : text);

  async function post(body: unknown, bearer?: string): Promise<{ status: number; json: GraphqlBody; date?: Date }> {
    let lastError = '';
    for (let attempt = 1; attempt <= o.retries + 1; attempt++) {
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
        if (bearer) headers.authorization = `Bearer ${bearer}`;
        const response = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(o.timeoutMs) });
        const text = await response.text();
        if (response.status >= 500 || response.status === 429) {
          lastError = `HTTP ${response.status}`;
        } else {
          const date = response.headers.get('date');
          return { status: response.status, json: parseBody(text, response.status), date: date ? new Date(date) : undefined };
        }
      } catch (error) {
        if (error instanceof OpenImisAnswerError) throw new Error(`openIMIS ${endpoint}: ${scrub(error.message)}`);
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        lastError = (error as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : scrub(`${(error as Error).message}${cause ? ` (${cause})` : ''}`);
      }
      if (attempt <= o.retries) {
        log.warn({ endpoint, attempt, reason: lastError }, 'openIMIS request failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, o.backoffMs * 2 ** (attempt - 1)));
      }
    }
    throw new Error(`openIMIS ${endpoint}: ${lastError} (after ${o.retries + 1} attempts)`);
  }

  async function authenticate(): Promise<void> {
    password = await readSecret(connection.password, `openIMIS password of ${connection.username}`);
    const answer = await post({
      query: 'mutation tokenAuth($username: String!, $password: String!) { tokenAuth(username: $username, password: $password) { token } }',
      variables: { username: connection.username, password },
    });
    const issued = (answer.json.data as { tokenAuth?: { token?: string } | null } | undefined)?.tokenAuth?.token;
    if (!issued) {
      const reason = scrub(messages(answer.json) || `HTTP ${answer.status}`);
      throw new UserError(`openIMIS ${endpoint}: tokenAuth refused the user ${connection.username}: ${reason}; nothing was imported`);
    }
    token = issued;
    log.info({ endpoint }, 'openIMIS token obtained');
  }

  async function query<T>(text: string, variables: Record<string, unknown> = {}): Promise<GraphqlAnswer<T>> {
    if (!token) await authenticate();
    for (let renewed = false; ; renewed = true) {
      const answer = await post({ query: text, variables }, token);
      const problem = messages(answer.json);
      const expired = answer.status === 401 || EXPIRED.test(problem);
      if (expired && !renewed) {
        log.info({ endpoint }, 'openIMIS token expired; renewing');
        await authenticate();
        continue;
      }
      if (problem || answer.status >= 400 || !answer.json.data) {
        const reason = scrub(problem || `HTTP ${answer.status}`);
        if (NO_PERMISSION.test(reason) || expired) {
          throw new UserError(`openIMIS ${endpoint}: ${reason} (the user ${connection.username} needs the group, beneficiary and benefit plan read rights)`);
        }
        throw new Error(`openIMIS ${endpoint}: ${reason}`);
      }
      return { data: answer.json.data as T, serverDate: answer.date };
    }
  }

  return { endpoint, authenticate, query };
}

/** `https://imis.example.org` or `…/api/graphql` → the GraphQL endpoint. */
export function graphqlEndpoint(url: string): string {
  if (!/^https?:\/\//.test(url)) throw new UserError(`openIMIS URL ${url}: give an http(s) URL, e.g. https://imis.example.org`);
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/api/graphql') ? base : `${base}/api/graphql`;
}

interface GraphqlBody {
  data?: unknown;
  errors?: { message?: string }[];
}

class OpenImisAnswerError extends Error {}

function parseBody(text: string, status: number): GraphqlBody {
  try {
    const body = JSON.parse(text) as GraphqlBody;
    if (body && typeof body === 'object') return body;
  } catch {
    // fall through
  }
  throw new OpenImisAnswerError(`HTTP ${status}, and the answer is not GraphQL JSON (is this the openIMIS URL?)`);
}

const messages = (body: GraphqlBody) => (body.errors ?? []).map((e) => e.message ?? 'error').join('; ');
