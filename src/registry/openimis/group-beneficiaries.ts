import { UserError } from '../../errors.ts';
import type { GraphqlAnswer, OpenImisClient } from './graphql-client.ts';

/**
 * The `groupBeneficiary` relay connection of openIMIS's social_protection module. Names follow
 * openimis-be-social_protection_py (schema.py: `group_beneficiary = OrderedDjangoFilterConnectionField(
 * GroupBeneficiaryGQLType, orderBy=…)`; gql_queries.py: `GroupBeneficiaryFilter` with
 * `prefix_filterset("group__", …)` and `("benefit_plan__", …)`, so graphene names them
 * `benefitPlan_Id`, `group_DateUpdated_Gte`, `dateUpdated_Gte`, `isDeleted`, `status`) and
 * openimis-be-individual_py (gql_queries.py: `GroupGQLType` with `head`, `IndividualGQLType` with
 * `firstName`, `lastName`, `dob`), as of their 2024-10 heads. `jsonExt` is graphene's JSONString:
 * JSON text, parsed here.
 */
export interface GroupBeneficiaryNode {
  uuid: string;
  status: string;
  isDeleted: boolean;
  dateUpdated: string | null;
  jsonExt: JsonExt;
  group: {
    uuid: string;
    code: string;
    isDeleted: boolean;
    dateUpdated: string | null;
    jsonExt: JsonExt;
    location: LocationNode | null;
    head: { firstName: string | null; lastName: string | null; dob: string | null; jsonExt: JsonExt } | null;
  };
}

export type JsonExt = string | Record<string, unknown> | null;

export interface LocationNode {
  code: string;
  name: string | null;
  type: string | null;
  parent: LocationNode | null;
}

/** Which beneficiaries: a full pull asks for the active ones; a delta for anything changed since. */
export type BeneficiaryFilter =
  | { benefitPlan: string; kind: 'active' }
  | { benefitPlan: string; kind: 'beneficiary changed'; since: Date }
  | { benefitPlan: string; kind: 'household changed'; since: Date };

export interface BeneficiaryPage {
  /** 1-based, per query. */
  page: number;
  nodes: GroupBeneficiaryNode[];
  totalCount: number | undefined;
  serverDate?: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Village → ward → district → region: the deepest openIMIS hierarchy (openimis-be-location_py).
const LOCATION = 'code name type parent { code name type parent { code name type parent { code name type } } }';

/**
 * The query text. The benefit plan and dates are written as literals (checked first: a UUID, an
 * ISO instant) rather than variables, because the scalar names their variables would need (`UUID`,
 * `DateTime`) vary between graphene versions; literals are read by any of them. Paging values
 * are variables. Ordered by id, so that the offset cursors graphene issues walk a stable order.
 */
export function groupBeneficiaryQuery(filter: BeneficiaryFilter): string {
  checkBenefitPlanId(filter.benefitPlan);
  const args = [`benefitPlan_Id: ${JSON.stringify(filter.benefitPlan)}`];
  if (filter.kind === 'active') args.push('status: "ACTIVE"', 'isDeleted: false');
  if (filter.kind === 'beneficiary changed') args.push(`dateUpdated_Gte: ${JSON.stringify(filter.since.toISOString())}`);
  if (filter.kind === 'household changed') args.push(`group_DateUpdated_Gte: ${JSON.stringify(filter.since.toISOString())}`);
  return `query groupBeneficiaries($first: Int!, $after: String) {
  groupBeneficiary(${args.join(', ')}, orderBy: ["id"], first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      uuid status isDeleted dateUpdated jsonExt
      group { uuid code isDeleted dateUpdated jsonExt location { ${LOCATION} } head { firstName lastName dob jsonExt } }
    } }
  }
}`;
}

/** openIMIS benefit plans are identified by UUID; anything else is a typo, said before anything is asked. */
export function checkBenefitPlanId(id: string): void {
  if (!UUID.test(id)) throw new UserError(`--benefit-plan ${id}: an openIMIS benefit plan id is a UUID`);
}

interface Connection {
  groupBeneficiary: {
    totalCount?: number | null;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { node: GroupBeneficiaryNode | null }[];
  } | null;
}

/**
 * Walks the connection page by page (`first: pageSize, after: endCursor`) until `hasNextPage` is false.
 *
 * ```ts
 * for await (const page of groupBeneficiaryPages(client, { benefitPlan, kind: 'active' }, 100)) …
 * ```
 */
export async function* groupBeneficiaryPages(
  client: OpenImisClient,
  filter: BeneficiaryFilter,
  pageSize: number,
): AsyncGenerator<BeneficiaryPage> {
  const query = groupBeneficiaryQuery(filter);
  let after: string | null = null;
  for (let page = 1; ; page++) {
    const answer: GraphqlAnswer<Connection> = await client.query<Connection>(query, { first: pageSize, after });
    const connection = answer.data.groupBeneficiary;
    if (!connection) throw new Error(`openIMIS ${client.endpoint}: groupBeneficiary answered nothing on page ${page}`);
    const nodes = connection.edges.flatMap((e) => (e.node ? [e.node] : []));
    yield { page, nodes, totalCount: connection.totalCount ?? undefined, serverDate: answer.serverDate };
    if (!connection.pageInfo.hasNextPage) return;
    if (!connection.pageInfo.endCursor || connection.pageInfo.endCursor === after || nodes.length === 0) {
      throw new Error(`openIMIS ${client.endpoint}: page ${page} says more follow but gives no new cursor`);
    }
    after = connection.pageInfo.endCursor;
  }
}
