import type { AccountState } from "./account.ts";
import { fail, ok, records, text, type Action, type Params } from "./action.ts";

/**
 * The Tag service (2018-08-13): the two actions the plugin calls to tag its functions, and the store the
 * other services read (SCF's ListFunctions filters on `tag-KEY`). A resource is keyed
 * `SERVICE:REGION:PREFIX/ID`, its six-segment name (https://cloud.tencent.com/document/product/598/10606)
 * without the account, which callers may leave empty.
 */

/** The store key of a resource. */
export function tagKey(service: string, region: string, prefixAndId: string): string {
  return `${service}:${region}:${prefixAndId}`;
}

/** `qcs::scf:ap-guangzhou::lam/lam-abc` (or with `uin/123` as the account) → `scf:ap-guangzhou:lam/lam-abc`. */
function tagKeyOfResource(resource: string): string | undefined {
  const match = /^qcs::([^:]+):([^:]*):[^:]*:(.+)$/.exec(resource);
  return match ? tagKey(match[1]!, match[2]!, match[3]!) : undefined;
}

/** The resource's tags (an empty record when it has none). */
export function tagsOf(account: AccountState, key: string): Record<string, string> {
  return account.tags[key] ?? {};
}

/** Replaces the resource's tags; no tags removes its entry, as a resource without tags has none in the Tag service. */
export function setTags(account: AccountState, key: string, tags: Record<string, string>): void {
  if (Object.keys(tags).length === 0) delete account.tags[key];
  else account.tags[key] = tags;
}

/** At most 10 tags change in one call ("标签数量不超过10个"). */
const MAX_TAGS_PER_CALL = 10;

const modifyResourceTags: Action = (params, { account }) => {
  const key = tagKeyOfResource(text(params, "Resource"));
  if (!key) return fail("InvalidParameterValue.ResourceDescriptionError", `Resource \`${text(params, "Resource")}\` is not a six-segment resource name.`);
  const replace = records(params, "ReplaceTags");
  const remove = records(params, "DeleteTags");
  if (params.ReplaceTags === undefined && params.DeleteTags === undefined) {
    return fail("InvalidParameter.Tag", "ModifyResourceTags needs ReplaceTags or DeleteTags.");
  }
  if (replace.length > MAX_TAGS_PER_CALL || remove.length > MAX_TAGS_PER_CALL) {
    return fail("LimitExceeded.ResourceAttachedTags", `ReplaceTags and DeleteTags hold at most ${MAX_TAGS_PER_CALL} tags each.`);
  }
  const both = replace.find((t) => remove.some((d) => d.TagKey === t.TagKey));
  if (both) return fail("InvalidParameterValue.DeleteTagsParamError", `Tag key \`${String(both.TagKey)}\` is both replaced and deleted.`);
  const tags = { ...tagsOf(account, key) };
  for (const t of remove) delete tags[String(t.TagKey)];
  for (const t of replace) tags[String(t.TagKey)] = String(t.TagValue);
  setTags(account, key, tags);
  return ok();
};

const describeResourceTagsByResourceIds: Action = (params: Params, { account }) => {
  const ids = Array.isArray(params.ResourceIds) ? (params.ResourceIds as string[]) : [];
  if (ids.length > 50) return fail("LimitExceeded.ResourceNumPerRequest", "ResourceIds holds at most 50 IDs.");
  const service = text(params, "ServiceType");
  const rows = ids.flatMap((id) =>
    Object.entries(tagsOf(account, tagKey(service, text(params, "ResourceRegion"), `${text(params, "ResourcePrefix")}/${id}`))).map(([TagKey, TagValue]) => ({
      TagKey,
      TagValue,
      ResourceId: id,
      ServiceType: service,
      Category: "Custom",
    })),
  );
  const offset = typeof params.Offset === "number" ? params.Offset : 0;
  const limit = typeof params.Limit === "number" ? params.Limit : 15;
  return ok({ TotalCount: rows.length, Offset: offset, Limit: limit, Tags: rows.slice(offset, offset + limit) });
};

export const TAG_ACTIONS: Readonly<Record<string, Action>> = {
  ModifyResourceTags: modifyResourceTags,
  DescribeResourceTagsByResourceIds: describeResourceTagsByResourceIds,
};
