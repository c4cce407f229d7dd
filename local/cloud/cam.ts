import type { CamRole } from "./account.ts";
import { fail, int, ok, text, type Action } from "./action.ts";
import { beijingTime } from "./clock.ts";

/**
 * CAM (2019-01-16), the actions the plugin calls while deploying: who the caller is (GetUserAppId), the
 * preset policies (ListPolicies), and the `SCF_QcsRole` role it creates and attaches a policy to. Role names
 * follow CreateRole's document (1-128 characters of letters, digits and `+=,.@-_`).
 */

/** Preset policies every account has. IDs are made up (ASSUMPTIONS.md); the names are the real ones. */
const PRESET_POLICIES: readonly { PolicyId: number; PolicyName: string; Description: string }[] = [
  { PolicyId: 1, PolicyName: "AdministratorAccess", Description: "All permissions" },
  { PolicyId: 2, PolicyName: "ReadOnlyAccess", Description: "Read-only access to all resources" },
  { PolicyId: 16313162, PolicyName: "QcloudAccessForScfRole", Description: "SCF service role: access to the resources functions use" },
  { PolicyId: 16313163, PolicyName: "QcloudSCFFullAccess", Description: "Full access to SCF" },
  { PolicyId: 16313164, PolicyName: "QcloudCSIPFullAccess", Description: "Full access to Cloud Security Center" },
];

const ROLE_NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;

const getUserAppId: Action = (_params, { account }) => ok({ Uin: account.uin, OwnerUin: account.uin, AppId: Number(account.appId) });

const listPolicies: Action = (params, { now }) => {
  const rp = int(params, "Rp", 20);
  const pageNumber = int(params, "Page", 1);
  if (rp <= 0 || rp > 200) return fail("InvalidParameter.ParamError", "Rp must be 1 to 200.");
  if (pageNumber < 1 || pageNumber > 200) return fail("InvalidParameter.ParamError", "Page must be 1 to 200.");
  const keyword = text(params, "Keyword").toLowerCase();
  const scope = text(params, "Scope") || "All";
  const matching = PRESET_POLICIES.filter((p) => (scope === "All" || scope === "QCS") && p.PolicyName.toLowerCase().includes(keyword));
  const list = matching.slice((pageNumber - 1) * rp, pageNumber * rp).map((p) => ({
    ...p,
    AddTime: beijingTime(now),
    Type: 2,
    CreateMode: 2,
    Attachments: 0,
    ServiceType: "",
    IsAttached: 0,
  }));
  return ok({ TotalNum: matching.length, List: list, ServiceTypeList: [] });
};

const createRole: Action = (params, { account, now }) => {
  const name = text(params, "RoleName");
  if (!ROLE_NAME.test(name)) return fail("InvalidParameter.RoleNameError", `RoleName \`${name}\` must be 1-128 characters of letters, digits and +=,.@-_.`);
  // The real answer to a taken name, which the plugin recognises by its message.
  if (account.roles.some((r) => r.RoleName === name)) return fail("InvalidParameter.RoleNameInUse", "role name in use");
  try {
    JSON.parse(text(params, "PolicyDocument"));
  } catch {
    return fail("InvalidParameter.PolicyDocumentError", "PolicyDocument is not JSON.");
  }
  const role: CamRole = {
    RoleId: String(4611686018427387904n + BigInt(account.roles.length + 1)),
    RoleName: name,
    PolicyDocument: text(params, "PolicyDocument"),
    Description: text(params, "Description"),
    AddTime: beijingTime(now),
    PolicyIds: [],
  };
  account.roles.push(role);
  return ok({ RoleId: role.RoleId });
};

const attachRolePolicy: Action = (params, { account }) => {
  const role = account.roles.find((r) => r.RoleId === text(params, "AttachRoleId") || r.RoleName === text(params, "AttachRoleName"));
  if (!role) return fail("InvalidParameter.RoleNotExist", "The role does not exist: give AttachRoleId or AttachRoleName of an existing role.");
  const policy = PRESET_POLICIES.find((p) => p.PolicyId === int(params, "PolicyId", -1) || p.PolicyName === text(params, "PolicyName"));
  if (!policy) return fail("InvalidParameter.PolicyIdNotExist", "The policy does not exist: give PolicyId or PolicyName of an existing policy.");
  if (!role.PolicyIds.includes(policy.PolicyId)) role.PolicyIds.push(policy.PolicyId);
  return ok();
};

const getRole: Action = (params, { account }) => {
  const role = account.roles.find((r) => r.RoleId === text(params, "RoleId") || r.RoleName === text(params, "RoleName"));
  if (!role) return fail("InvalidParameter.RoleNotExist", "The role does not exist.");
  return ok({
    RoleInfo: {
      RoleId: role.RoleId,
      RoleName: role.RoleName,
      PolicyDocument: role.PolicyDocument,
      Description: role.Description,
      AddTime: role.AddTime,
      UpdateTime: role.AddTime,
      ConsoleLogin: 0,
      RoleType: "user",
      SessionDuration: 0,
      DeletionTaskId: "",
      Tags: [],
      RoleArn: `qcs::cam::uin/${account.uin}:roleName/${role.RoleName}`,
    },
  });
};

export const CAM_ACTIONS: Readonly<Record<string, Action>> = {
  GetUserAppId: getUserAppId,
  ListPolicies: listPolicies,
  CreateRole: createRole,
  AttachRolePolicy: attachRolePolicy,
  GetRole: getRole,
};
