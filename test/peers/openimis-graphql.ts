import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql, type GraphQLError } from 'graphql';

/**
 * A stand-in for openIMIS's GraphQL endpoint (`/api/graphql`), social protection module, as a
 * real HTTP server on 127.0.0.1. It speaks the names openIMIS's graphene schema has
 * (openimis-be-social_protection_py `groupBeneficiary` with graphene-django's filter names and
 * offset cursors, openimis-be-individual_py `GroupGQLType.head`, graphql_jwt's `tokenAuth` and its
 * "Signature has expired"), and holds N households generated from a seed on demand, so 100,000
 * cost nothing until they are read. It shares no code with the engine's client.
 *
 * Faults on demand: the next N requests answer 5xx (`failNext`), every token issued so far expires
 * (`expireTokens`), and a hook sees each query (`onQuery`) to fault mid-pull.
 */
export interface OpenImisPeerOptions {
  households: number;
  seed?: number;
  users?: Record<string, string>;
  /** graphene-django's RELAY_CONNECTION_MAX_LIMIT; openIMIS ships 100. */
  maxPageSize?: number;
  /** A careless deployment whose refusal quotes the credentials it was sent (a proxy, a debug middleware). */
  echoCredentials?: boolean;
}

export interface PeerLocation {
  code: string;
  name: string;
  type: 'R' | 'D' | 'W' | 'V';
  parent: PeerLocation | null;
}

/** One household as openIMIS holds it: the group, its head and its enrolment in the plan. */
export interface PeerHousehold {
  index: number;
  groupUuid: string;
  code: string;
  location: PeerLocation;
  head: { firstName: string; lastName: string; dob: string; jsonExt: Record<string, unknown> } | null;
  groupExt: Record<string, unknown>;
  groupUpdated: number;
  groupDeleted: boolean;
  beneficiaryUuid: string;
  status: 'ACTIVE' | 'POTENTIAL' | 'SUSPENDED' | 'GRADUATED';
  beneficiaryExt: Record<string, unknown>;
  beneficiaryUpdated: number;
  beneficiaryDeleted: boolean;
}

type Override = Partial<Omit<PeerHousehold, 'index'>>;

const SDL = `
  scalar DateTime
  scalar Date
  scalar UUID
  scalar JSONString
  type Query {
    groupBeneficiary(
      benefitPlan_Id: UUID, status: String, isDeleted: Boolean,
      dateUpdated_Gte: DateTime, group_DateUpdated_Gte: DateTime,
      orderBy: [String], first: Int, after: String, offset: Int
    ): GroupBeneficiaryGQLTypeConnection
  }
  type Mutation { tokenAuth(username: String!, password: String!): ObtainJSONWebToken }
  type ObtainJSONWebToken { token: String!, refreshExpiresIn: Int!, payload: JSONString! }
  type PageInfo { hasNextPage: Boolean!, hasPreviousPage: Boolean!, startCursor: String, endCursor: String }
  type GroupBeneficiaryGQLTypeConnection { pageInfo: PageInfo!, edges: [GroupBeneficiaryGQLTypeEdge]!, totalCount: Int, edgeCount: Int }
  type GroupBeneficiaryGQLTypeEdge { node: GroupBeneficiaryGQLType, cursor: String! }
  type GroupBeneficiaryGQLType {
    id: ID!, uuid: String, status: String!, isDeleted: Boolean!, dateUpdated: DateTime, jsonExt: JSONString, group: GroupGQLType!
  }
  type GroupGQLType {
    id: ID!, uuid: String, code: String!, isDeleted: Boolean!, dateUpdated: DateTime, jsonExt: JSONString,
    location: LocationGQLType, head: IndividualGQLType
  }
  type IndividualGQLType { id: ID!, uuid: String, firstName: String!, lastName: String!, dob: Date!, jsonExt: JSONString }
  type LocationGQLType { id: ID!, uuid: String, code: String!, name: String!, type: String!, parent: LocationGQLType }
`;

const BASE_TIME = Date.parse('2025-03-01T00:00:00Z');
const FIRST_NAMES = ['Amina', 'Baraka', 'Chausiku', 'Daudi', 'Esther', 'Faraji', 'Grace', 'Hamisi', 'Imani', 'Juma'];
const LAST_NAMES = ['Achieng', 'Barasa', 'Chege', 'Dida', 'Ekiru', 'Galgalo', 'Hassan', 'Ibrahim', 'Jillo', 'Kamau'];
const WATER = ['borehole', 'river', 'piped', 'rain'];

export async function startOpenImisPeer(options: OpenImisPeerOptions) {
  const seed = options.seed ?? 1;
  const users = options.users ?? { admin: 'admin123' };
  const maxPageSize = options.maxPageSize ?? 100;
  const secret = randomBytes(32);
  const benefitPlan = uuidOf(`plan:${seed}`);
  const locations = locationTree();
  const villagesAndWards = locations.filter((l) => l.type === 'V' || l.type === 'W');
  const overrides = new Map<number, Override>();
  let revision = 0;
  let revokedBefore = 0;
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  const stats = { requests: 0, tokenAuths: 0, queries: 0, pageSizes: [] as number[], filters: [] as string[] };
  let cache: { key: string; indices: number[] } | undefined;

  function household(index: number): PeerHousehold {
    if (index < 0 || index >= options.households) throw new Error(`no household ${index}`);
    const random = xorshift(seed * 1_000_003 + index);
    const pickOf = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    const base: PeerHousehold = {
      index,
      groupUuid: uuidOf(`group:${seed}:${index}`),
      code: `HH${String(index).padStart(7, '0')}`,
      // Every tenth household is registered at its ward rather than a village.
      location: villagesAndWards[index % 10 === 3 ? 288 + (index % 72) : index % 288],
      head: index % 97 === 5 ? null : {
        firstName: pickOf(FIRST_NAMES),
        lastName: pickOf(LAST_NAMES),
        dob: `${1940 + Math.floor(random() * 60)}-${pad(1 + Math.floor(random() * 12), 2)}-${pad(1 + Math.floor(random() * 28), 2)}`,
        jsonExt: { national_id: String(10_000_000 + index), phone: `+2547${pad(index, 8)}` },
      },
      groupExt: {
        number_of_members: 1 + Math.floor(random() * 12),
        pmt_score: Math.round(random() * 10_000) / 100,
        water_source: pickOf(WATER),
        dwelling: { roof: random() < 0.5 ? 'iron' : 'thatch', rooms: 1 + Math.floor(random() * 4) },
      },
      groupUpdated: BASE_TIME + index * 1000,
      groupDeleted: false,
      beneficiaryUuid: uuidOf(`beneficiary:${seed}:${index}`),
      status: 'ACTIVE',
      beneficiaryExt: { enrolment_round: '2025-1' },
      beneficiaryUpdated: BASE_TIME + index * 1000,
      beneficiaryDeleted: false,
    };
    return { ...base, ...overrides.get(index) };
  }

  function change(indices: number[], edit: (h: PeerHousehold, now: number) => Override): string[] {
    const now = Date.now();
    revision++;
    return indices.map((index) => {
      const before = household(index);
      overrides.set(index, { ...overrides.get(index), ...edit(before, now) });
      return before.code;
    });
  }

  function matching(args: Record<string, unknown>): number[] {
    const key = `${revision}:${JSON.stringify({ ...args, first: undefined, after: undefined, offset: undefined })}`;
    if (cache?.key === key) return cache.indices;
    const beneficiarySince = args.dateUpdated_Gte ? Date.parse(String(args.dateUpdated_Gte)) : undefined;
    const groupSince = args.group_DateUpdated_Gte ? Date.parse(String(args.group_DateUpdated_Gte)) : undefined;
    const indices: number[] = [];
    for (let i = 0; i < options.households; i++) {
      // Untouched households need not be generated: only their base dates and status matter.
      const h = overrides.has(i) ? household(i) : { status: 'ACTIVE', beneficiaryDeleted: false, beneficiaryUpdated: BASE_TIME + i * 1000, groupUpdated: BASE_TIME + i * 1000 };
      if (args.status !== undefined && args.status !== h.status) continue;
      if (args.isDeleted !== undefined && args.isDeleted !== h.beneficiaryDeleted) continue;
      if (beneficiarySince !== undefined && h.beneficiaryUpdated < beneficiarySince) continue;
      if (groupSince !== undefined && h.groupUpdated < groupSince) continue;
      indices.push(i);
    }
    cache = { key, indices };
    return indices;
  }

  const root = {
    tokenAuth({ username, password }: { username: string; password: string }) {
      stats.tokenAuths++;
      const known = users[username];
      if (known === undefined || !sameText(known, password)) {
        throw new Error(`Please enter valid credentials${options.echoCredentials ? ` (got ${username}/${password})` : ''}`);
      }
      const issuedMs = Date.now();
      const payload = { username, exp: Math.floor(issuedMs / 1000) + 300, origIat: Math.floor(issuedMs / 1000), iatMs: issuedMs };
      return { token: signToken(payload, secret), refreshExpiresIn: payload.exp + 86_400, payload: JSON.stringify(payload) };
    },
    groupBeneficiary(args: Record<string, unknown>, context: { authorization?: string }) {
      stats.queries++;
      peer.onQuery?.(stats.queries);
      checkToken(context.authorization);
      const first = typeof args.first === 'number' ? args.first : maxPageSize;
      if (first > maxPageSize) {
        throw new Error(`Requesting ${first} records on the \`groupBeneficiary\` connection exceeds the \`first\` limit of ${maxPageSize} records.`);
      }
      stats.pageSizes.push(first);
      const filter = Object.entries(args).filter(([k]) => !['first', 'after', 'offset', 'orderBy'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
      if (!args.after) stats.filters.push(filter);
      const indices = args.benefitPlan_Id === benefitPlan ? matching(args) : [];
      const start = args.after ? offsetOf(String(args.after)) + 1 : 0;
      const slice = indices.slice(start, start + first);
      return {
        totalCount: indices.length,
        edgeCount: slice.length,
        pageInfo: {
          hasNextPage: start + slice.length < indices.length,
          hasPreviousPage: start > 0,
          startCursor: slice.length ? cursorOf(start) : null,
          endCursor: slice.length ? cursorOf(start + slice.length - 1) : null,
        },
        edges: slice.map((index, n) => ({ cursor: cursorOf(start + n), node: nodeOf(household(index)) })),
      };
    },
  };

  function checkToken(authorization: string | undefined) {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const payload = token ? verifyToken(token, secret) : undefined;
    if (!payload) throw new Error('You do not have permission to perform this action');
    if (payload.exp * 1000 < Date.now() || payload.iatMs <= revokedBefore) throw new Error('Signature has expired');
  }

  const schema = buildSchema(SDL);
  const server = createServer((req, res) => {
    serve(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error.message));
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse) {
    stats.requests++;
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/api/graphql') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (failures.count > 0) {
      failures.count--;
      res.writeHead(failures.status, { 'content-type': 'text/html' }).end('<h1>Server Error</h1>');
      return;
    }
    let body: { query?: string; variables?: Record<string, unknown> };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'Could not parse the request body as JSON' }] }));
      return;
    }
    const result = await graphql({
      schema,
      source: body.query ?? '',
      variableValues: body.variables,
      rootValue: root,
      contextValue: { authorization: req.headers.authorization },
    });
    // graphene-django: 400 when the query itself is invalid (errors without a path), else 200.
    const invalid = (result.errors ?? []).some((e: GraphQLError) => !e.path);
    const answer = { ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message, path: e.path })) } : {}), data: result.data ?? null };
    res.writeHead(invalid ? 400 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const peer = {
    url,
    benefitPlan,
    locations,
    stats,
    household,
    /** Called with the running count of groupBeneficiary queries, before the token is checked. */
    onQuery: undefined as ((queries: number) => void) | undefined,
    /** Households change (size grows by one, a new water source): the group's dateUpdated moves. Returns their codes. */
    changeHouseholds: (indices: number[]) =>
      change(indices, (h, now) => ({ groupExt: { ...h.groupExt, number_of_members: Number(h.groupExt.number_of_members) + 1, water_source: 'tanker' }, groupUpdated: now })),
    /** Enrolments change status (or are deleted): the beneficiary's dateUpdated moves. Returns the groups' codes. */
    changeEnrolments: (indices: number[], to: PeerHousehold['status'] | 'deleted') =>
      change(indices, (_h, now) => (to === 'deleted' ? { beneficiaryDeleted: true, beneficiaryUpdated: now } : { status: to, beneficiaryUpdated: now })),
    /** Households move to a location of their own, outside the tree (no parent). */
    relocate: (indices: number[], code: string) =>
      change(indices, (_h, now) => ({ location: { code, name: `Location ${code}`, type: 'V', parent: null }, groupUpdated: now })),
    /** The next `count` requests answer `status` (a 5xx). */
    failNext(count: number, status = 503) {
      failures = { count, status };
    },
    /** Every token issued so far is past its lifetime: the next query using one hears "Signature has expired". */
    expireTokens() {
      revokedBefore = Date.now();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return peer;
}

export type OpenImisPeer = Awaited<ReturnType<typeof startOpenImisPeer>>;

function nodeOf(h: PeerHousehold) {
  const location = (l: PeerLocation | null): unknown =>
    l && { id: globalId('LocationGQLType', l.code), uuid: uuidOf(`location:${l.code}`), code: l.code, name: l.name, type: l.type, parent: location(l.parent) };
  return {
    id: globalId('GroupBeneficiaryGQLType', h.beneficiaryUuid),
    uuid: h.beneficiaryUuid,
    status: h.status,
    isDeleted: h.beneficiaryDeleted,
    dateUpdated: naive(h.beneficiaryUpdated),
    jsonExt: JSON.stringify(h.beneficiaryExt),
    group: {
      id: globalId('GroupGQLType', h.groupUuid),
      uuid: h.groupUuid,
      code: h.code,
      isDeleted: h.groupDeleted,
      dateUpdated: naive(h.groupUpdated),
      jsonExt: JSON.stringify(h.groupExt),
      location: location(h.location),
      head: h.head && { id: globalId('IndividualGQLType', `${h.groupUuid}:head`), ...h.head, jsonExt: JSON.stringify(h.head.jsonExt) },
    },
  };
}

/** 4 regions R0000001…, 6 districts each D0000001…, 3 wards each W0000001…, 4 villages each V0000001…: villages first, then wards. */
function locationTree(): PeerLocation[] {
  const regions: PeerLocation[] = [];
  const districts: PeerLocation[] = [];
  const wards: PeerLocation[] = [];
  const villages: PeerLocation[] = [];
  const at = (type: PeerLocation['type'], n: number, parent: PeerLocation | null): PeerLocation => ({
    code: `${type}${pad(n, 7)}`,
    name: `${{ R: 'Region', D: 'District', W: 'Ward', V: 'Village' }[type]} ${n}`,
    type,
    parent,
  });
  for (let r = 1; r <= 4; r++) regions.push(at('R', r, null));
  for (let d = 1; d <= 24; d++) districts.push(at('D', d, regions[Math.floor((d - 1) / 6)]));
  for (let w = 1; w <= 72; w++) wards.push(at('W', w, districts[Math.floor((w - 1) / 3)]));
  for (let v = 1; v <= 288; v++) villages.push(at('V', v, wards[Math.floor((v - 1) / 4)]));
  return [...villages, ...wards, ...districts, ...regions];
}

function signToken(payload: object, secret: Buffer): string {
  const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

function verifyToken(token: string, secret: Buffer): { exp: number; iatMs: number } | undefined {
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) return undefined;
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  if (!sameText(expected, signature)) return undefined;
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// graphene-django's relay cursors: base64("arrayconnection:<offset>").
const cursorOf = (offset: number) => Buffer.from(`arrayconnection:${offset}`).toString('base64');
function offsetOf(cursor: string): number {
  const match = /^arrayconnection:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!match) throw new Error(`Invalid cursor ${cursor}`);
  return Number(match[1]);
}
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
/** Django with USE_TZ = False, as openIMIS runs: naive ISO date-times (UTC here). */
const naive = (ms: number) => new Date(ms).toISOString().replace('Z', '');
const pad = (n: number, width: number) => String(n).padStart(width, '0');

function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** xorshift32, warmed up so that neighbouring seeds (household indices) give unrelated draws. */
function xorshift(seed: number): () => number {
  let state = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  for (let i = 0; i < 4; i++) next();
  return next;
}
