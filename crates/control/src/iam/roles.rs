//! Roles and their inline policies and tags: creation with a validated trust policy, reads,
//! updates and deletion, which IAM refuses while policies remain. Attaching managed policies
//! is `policies`' job.

use std::collections::BTreeMap;

use policy::{Policy, PolicyKind};

use super::page::{ordinal, Page, PageRequest};
use super::records::{
    all_roles, key, load_role, now, role_arn, save_role, unique_id, RoleRecord, Tag, ROLE_KIND,
};
use super::validate::{Violations, MAX_TAGS};
use super::IamError;
use crate::store::{Scope, Tx};

/// A role's session limit when CreateRole names none: one hour.
const DEFAULT_MAX_SESSION_DURATION: i64 = 3600;
const ROLE_NAME_MAX: usize = 64;
const INLINE_NAME_MAX: usize = 128;

/// What CreateRole asks for.
#[derive(Clone, Debug, Default)]
pub struct NewRole {
    pub name: String,
    pub path: Option<String>,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub tags: Vec<Tag>,
}

/// A role as IAM reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDetails {
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    /// The trust policy exactly as stored.
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub tags: Vec<Tag>,
}

impl From<RoleRecord> for RoleDetails {
    fn from(r: RoleRecord) -> Self {
        RoleDetails {
            name: r.name,
            path: r.path,
            role_id: r.role_id,
            arn: r.arn,
            create_date: r.create_date,
            trust_policy: r.trust_policy,
            description: r.description,
            max_session_duration: r.max_session_duration,
            tags: r.tags,
        }
    }
}

/// What UpdateRole changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct RoleUpdate {
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
}

pub fn create_role(tx: &mut dyn Tx, account: &str, new: NewRole) -> Result<RoleDetails, IamError> {
    let path = new.path.unwrap_or_else(|| "/".to_owned());
    let max_session_duration = new
        .max_session_duration
        .unwrap_or(DEFAULT_MAX_SESSION_DURATION);
    let mut v = Violations::new();
    v.name("roleName", &new.name, ROLE_NAME_MAX)
        .role_path("path", &path)
        .document("assumeRolePolicyDocument", &new.trust_policy)
        .max_session_duration("maxSessionDuration", max_session_duration)
        .tags("tags", &new.tags);
    if let Some(d) = &new.description {
        v.role_description("description", d);
    }
    v.finish()?;
    check_unique_tag_keys(&new.tags)?;
    validate_trust_policy(&new.trust_policy)?;
    if load_role(tx, account, &new.name)?.is_some() {
        return Err(IamError::RoleAlreadyExists(new.name));
    }
    let record = RoleRecord {
        arn: role_arn(account, &path, &new.name),
        role_id: unique_id("AROA"),
        name: new.name,
        path,
        create_date: now(),
        trust_policy: new.trust_policy,
        description: new.description,
        // Validated to 3600..=43200 above, so it fits.
        max_session_duration: u32::try_from(max_session_duration).unwrap_or(u32::MAX),
        tags: new.tags,
        attached_policies: Vec::new(),
        inline_policies: BTreeMap::new(),
    };
    save_role(tx, account, &record)?;
    Ok(record.into())
}

pub fn get_role(tx: &mut dyn Tx, account: &str, name: &str) -> Result<RoleDetails, IamError> {
    Ok(existing(tx, account, name)?.into())
}

/// Roles whose path starts with `path_prefix` (default `/`), ordered by name.
pub fn list_roles(
    tx: &mut dyn Tx,
    account: &str,
    path_prefix: Option<&str>,
    page: &PageRequest,
) -> Result<Page<RoleDetails>, IamError> {
    let prefix = path_prefix.unwrap_or("/");
    Violations::new()
        .path_prefix("pathPrefix", prefix)
        .finish()?;
    let roles = all_roles(tx, account)?
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| (key(&r.name), RoleDetails::from(r)))
        .collect();
    page.cut(roles)
}

pub fn delete_role(tx: &mut dyn Tx, account: &str, name: &str) -> Result<(), IamError> {
    let role = existing(tx, account, name)?;
    if !role.attached_policies.is_empty() {
        return Err(IamError::RoleHasAttachedPolicies);
    }
    if !role.inline_policies.is_empty() {
        return Err(IamError::RoleHasInlinePolicies);
    }
    tx.delete(ROLE_KIND, &Scope::global(account), &key(&role.name))?;
    Ok(())
}

pub fn update_assume_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
    document: String,
) -> Result<(), IamError> {
    Violations::new()
        .name("roleName", name, ROLE_NAME_MAX)
        .document("policyDocument", &document)
        .finish()?;
    validate_trust_policy(&document)?;
    let mut role = existing(tx, account, name)?;
    role.trust_policy = document;
    save_role(tx, account, &role)?;
    Ok(())
}

pub fn update_role(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
    update: RoleUpdate,
) -> Result<(), IamError> {
    let mut v = Violations::new();
    v.name("roleName", name, ROLE_NAME_MAX);
    if let Some(d) = &update.description {
        v.role_description("description", d);
    }
    if let Some(s) = update.max_session_duration {
        v.max_session_duration("maxSessionDuration", s);
    }
    v.finish()?;
    let mut role = existing(tx, account, name)?;
    if let Some(d) = update.description {
        role.description = Some(d);
    }
    if let Some(s) = update.max_session_duration {
        role.max_session_duration = u32::try_from(s).unwrap_or(u32::MAX);
    }
    save_role(tx, account, &role)?;
    Ok(())
}

/// Adds `tags`, replacing the value of keys the role already has (keys compare without case,
/// as IAM's do).
pub fn tag_role(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
    tags: Vec<Tag>,
) -> Result<(), IamError> {
    Violations::new()
        .name("roleName", name, ROLE_NAME_MAX)
        .tags("tags", &tags)
        .finish()?;
    check_unique_tag_keys(&tags)?;
    let mut role = existing(tx, account, name)?;
    for tag in tags {
        match role
            .tags
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(existing) => *existing = tag,
            None => role.tags.push(tag),
        }
    }
    if role.tags.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPerRole: {MAX_TAGS}"
        )));
    }
    save_role(tx, account, &role)?;
    Ok(())
}

pub fn untag_role(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
    keys: &[String],
) -> Result<(), IamError> {
    let mut v = Violations::new();
    v.name("roleName", name, ROLE_NAME_MAX);
    for (i, k) in keys.iter().enumerate() {
        v.tag_key(&format!("tagKeys.{}.member", i + 1), k);
    }
    v.finish()?;
    let mut role = existing(tx, account, name)?;
    role.tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    save_role(tx, account, &role)?;
    Ok(())
}

/// The role's tags in the order they were added.
pub fn list_role_tags(
    tx: &mut dyn Tx,
    account: &str,
    name: &str,
    page: &PageRequest,
) -> Result<Page<Tag>, IamError> {
    let role = existing(tx, account, name)?;
    page.cut(
        role.tags
            .into_iter()
            .enumerate()
            .map(|(i, t)| (ordinal(i), t))
            .collect(),
    )
}

/// Creates or replaces the inline policy `policy_name` of the role.
pub fn put_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    policy_name: &str,
    document: String,
) -> Result<(), IamError> {
    Violations::new()
        .name("roleName", role_name, ROLE_NAME_MAX)
        .name("policyName", policy_name, INLINE_NAME_MAX)
        .document("policyDocument", &document)
        .finish()?;
    Policy::parse(&document, PolicyKind::Identity)?;
    let mut role = existing(tx, account, role_name)?;
    let others = role
        .inline_policies
        .iter()
        .filter(|(name, _)| name.as_str() != policy_name)
        .map(|(_, doc)| doc.as_str());
    let all: Vec<&str> = others.chain(std::iter::once(document.as_str())).collect();
    policy::check_role_inline_policies_size(&role.name, &all)?;
    role.inline_policies
        .insert(policy_name.to_owned(), document);
    save_role(tx, account, &role)?;
    Ok(())
}

/// The inline policy's document exactly as stored, with the role's and policy's names.
pub fn get_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    policy_name: &str,
) -> Result<(String, String), IamError> {
    Violations::new()
        .name("roleName", role_name, ROLE_NAME_MAX)
        .name("policyName", policy_name, INLINE_NAME_MAX)
        .finish()?;
    let mut role = existing(tx, account, role_name)?;
    match role.inline_policies.remove(policy_name) {
        Some(document) => Ok((role.name, document)),
        None => Err(IamError::NoSuchRolePolicy(policy_name.to_owned())),
    }
}

pub fn delete_role_policy(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    policy_name: &str,
) -> Result<(), IamError> {
    Violations::new()
        .name("roleName", role_name, ROLE_NAME_MAX)
        .name("policyName", policy_name, INLINE_NAME_MAX)
        .finish()?;
    let mut role = existing(tx, account, role_name)?;
    if role.inline_policies.remove(policy_name).is_none() {
        return Err(IamError::NoSuchRolePolicy(policy_name.to_owned()));
    }
    save_role(tx, account, &role)?;
    Ok(())
}

/// Names of the role's inline policies, in name order.
pub fn list_role_policies(
    tx: &mut dyn Tx,
    account: &str,
    role_name: &str,
    page: &PageRequest,
) -> Result<Page<String>, IamError> {
    let role = existing(tx, account, role_name)?;
    page.cut(
        role.inline_policies
            .into_keys()
            .map(|name| (name.clone(), name))
            .collect(),
    )
}

/// The role named `name`, after checking the name's shape, or `NoSuchEntity`.
pub(crate) fn existing(tx: &mut dyn Tx, account: &str, name: &str) -> Result<RoleRecord, IamError> {
    Violations::new()
        .name("roleName", name, ROLE_NAME_MAX)
        .finish()?;
    load_role(tx, account, name)?.ok_or_else(|| IamError::NoSuchRole(name.to_owned()))
}

fn validate_trust_policy(document: &str) -> Result<(), IamError> {
    policy::check_trust_policy_size(document)?;
    Policy::parse(document, PolicyKind::Trust)?;
    Ok(())
}

fn check_unique_tag_keys(tags: &[Tag]) -> Result<(), IamError> {
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::attach_role_policy;
    use crate::Store;

    const ACCOUNT: &str = "111111111111";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_sqlite(dir.path()).expect("store opens");
        (dir, store)
    }

    fn new_role(name: &str) -> NewRole {
        NewRole {
            name: name.into(),
            trust_policy: TRUST.into(),
            ..NewRole::default()
        }
    }

    fn create(store: &Store, account: &str, new: NewRole) -> Result<RoleDetails, IamError> {
        store.write(|tx| create_role(tx, account, new))
    }

    #[test]
    fn create_and_get_keep_everything_as_given() {
        let (_dir, store) = store();
        let pretty = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"lambda.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\"}]\n}";
        let created = create(
            &store,
            ACCOUNT,
            NewRole {
                name: "MyRole".into(),
                path: Some("/app/".into()),
                trust_policy: pretty.into(),
                description: Some("for tests".into()),
                max_session_duration: Some(7200),
                tags: vec![Tag {
                    key: "team".into(),
                    value: "net".into(),
                }],
            },
        )
        .expect("created");
        assert_eq!(created.arn, "arn:aws:iam::111111111111:role/app/MyRole");
        assert!(created.role_id.starts_with("AROA"));
        assert_eq!(created.role_id.len(), 21);
        assert!(created.role_id[4..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(created.trust_policy, pretty);
        assert_eq!(created.max_session_duration, 7200);
        assert!(created.create_date.ends_with('Z') && created.create_date.len() == 20);
        let got = store
            .read(|tx| get_role(tx, ACCOUNT, "myrole"))
            .expect("names ignore case");
        assert_eq!(got, created);
    }

    #[test]
    fn names_are_unique_without_case_and_per_account() {
        let (_dir, store) = store();
        create(&store, ACCOUNT, new_role("Dup")).expect("created");
        assert!(matches!(
            create(&store, ACCOUNT, new_role("dup")),
            Err(IamError::RoleAlreadyExists(n)) if n == "dup"
        ));
        create(&store, "222222222222", new_role("Dup")).expect("other account is separate");
        assert!(matches!(
            store.read(|tx| get_role(tx, "333333333333", "Dup")),
            Err(IamError::NoSuchRole(_))
        ));
    }

    #[test]
    fn refuses_bad_input() {
        let (_dir, store) = store();
        type Expect = fn(&IamError) -> bool;
        let cases: Vec<(NewRole, Expect)> = vec![
            (
                new_role("bad name"),
                |e| matches!(e, IamError::Validation(m) if m.contains("'roleName'")),
            ),
            (new_role(&"a".repeat(65)), |e| {
                matches!(e, IamError::Validation(_))
            }),
            (
                NewRole {
                    path: Some("nope".into()),
                    ..new_role("p")
                },
                |e| matches!(e, IamError::Validation(m) if m.contains("'path'")),
            ),
            (
                NewRole {
                    max_session_duration: Some(60),
                    ..new_role("d")
                },
                |e| matches!(e, IamError::Validation(m) if m.contains("greater than or equal to 3600")),
            ),
            (
                NewRole {
                    trust_policy: "{not json".into(),
                    ..new_role("t")
                },
                |e| matches!(e, IamError::MalformedPolicyDocument(_)),
            ),
            (
                NewRole {
                    trust_policy: INLINE.into(),
                    ..new_role("t2")
                },
                |e| matches!(e, IamError::MalformedPolicyDocument(_)),
            ),
            (
                NewRole {
                    tags: vec![
                        Tag {
                            key: "k".into(),
                            value: "1".into(),
                        },
                        Tag {
                            key: "K".into(),
                            value: "2".into(),
                        },
                    ],
                    ..new_role("tags")
                },
                |e| matches!(e, IamError::InvalidInput(_)),
            ),
        ];
        for (new, expected) in cases {
            let name = new.name.clone();
            let err = create(&store, ACCOUNT, new).expect_err(&name);
            assert!(expected(&err), "{name}: {err:?}");
        }
        let listed = store
            .read(|tx| list_roles(tx, ACCOUNT, None, &PageRequest::default()))
            .expect("lists");
        assert!(listed.items.is_empty(), "nothing half-created");
    }

    #[test]
    fn delete_conflicts_until_policies_are_gone() {
        let (_dir, store) = store();
        create(&store, ACCOUNT, new_role("r")).expect("created");
        let vpc = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
        store
            .write(|tx| {
                attach_role_policy(tx, ACCOUNT, "r", vpc)?;
                put_role_policy(tx, ACCOUNT, "r", "inline", INLINE.into())
            })
            .expect("policies added");
        let delete = || store.write(|tx| delete_role(tx, ACCOUNT, "r"));
        assert!(matches!(delete(), Err(IamError::RoleHasAttachedPolicies)));
        store
            .write(|tx| crate::iam::detach_role_policy(tx, ACCOUNT, "r", vpc))
            .expect("detached");
        assert!(matches!(delete(), Err(IamError::RoleHasInlinePolicies)));
        store
            .write(|tx| delete_role_policy(tx, ACCOUNT, "r", "inline"))
            .expect("inline deleted");
        delete().expect("deleted");
        assert!(matches!(delete(), Err(IamError::NoSuchRole(_))));
    }

    #[test]
    fn inline_policies_replace_and_respect_the_size_quota() {
        let (_dir, store) = store();
        create(&store, ACCOUNT, new_role("r")).expect("created");
        let put = |name: &str, doc: String| {
            store.write(|tx| put_role_policy(tx, ACCOUNT, "r", name, doc))
        };
        put("a", INLINE.into()).expect("put");
        put("a", INLINE.replace("GetObject", "PutObject")).expect("replaced");
        let (_, doc) = store
            .read(|tx| get_role_policy(tx, ACCOUNT, "r", "a"))
            .expect("got");
        assert!(doc.contains("PutObject"));
        assert!(matches!(
            store.read(|tx| get_role_policy(tx, ACCOUNT, "r", "b")),
            Err(IamError::NoSuchRolePolicy(n)) if n == "b"
        ));
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "x".repeat(6000)
        );
        put("big1", big.clone()).expect("first fits");
        assert!(matches!(put("big2", big), Err(IamError::LimitExceeded(_))));
        assert!(matches!(
            put("bad", TRUST.into()),
            Err(IamError::MalformedPolicyDocument(_))
        ));
        let names = store
            .read(|tx| list_role_policies(tx, ACCOUNT, "r", &PageRequest::default()))
            .expect("listed");
        assert_eq!(names.items, vec!["a".to_string(), "big1".to_string()]);
    }

    #[test]
    fn updates_and_tags() {
        let (_dir, store) = store();
        create(&store, ACCOUNT, new_role("r")).expect("created");
        store
            .write(|tx| {
                update_role(
                    tx,
                    ACCOUNT,
                    "r",
                    RoleUpdate {
                        description: Some("new".into()),
                        max_session_duration: Some(43200),
                    },
                )?;
                let ec2_trust = TRUST.replace("lambda", "ec2");
                update_assume_role_policy(tx, ACCOUNT, "r", ec2_trust)?;
                tag_role(
                    tx,
                    ACCOUNT,
                    "r",
                    vec![
                        Tag {
                            key: "a".into(),
                            value: "1".into(),
                        },
                        Tag {
                            key: "b".into(),
                            value: "2".into(),
                        },
                    ],
                )?;
                tag_role(
                    tx,
                    ACCOUNT,
                    "r",
                    vec![Tag {
                        key: "A".into(),
                        value: "3".into(),
                    }],
                )?;
                untag_role(tx, ACCOUNT, "r", &["B".into()])
            })
            .expect("updated");
        let role = store.read(|tx| get_role(tx, ACCOUNT, "r")).expect("got");
        assert_eq!(role.description.as_deref(), Some("new"));
        assert_eq!(role.max_session_duration, 43200);
        assert!(role.trust_policy.contains("ec2.amazonaws.com"));
        assert_eq!(
            role.tags,
            vec![Tag {
                key: "A".into(),
                value: "3".into()
            }]
        );
        assert!(matches!(
            store.write(|tx| update_role(
                tx,
                ACCOUNT,
                "r",
                RoleUpdate {
                    description: None,
                    max_session_duration: Some(50000)
                }
            )),
            Err(IamError::Validation(_))
        ));
    }

    #[test]
    fn list_roles_filters_and_pages() {
        let (_dir, store) = store();
        for (name, path) in [("c", "/x/"), ("A", "/"), ("b", "/x/y/"), ("D", "/z/")] {
            create(
                &store,
                ACCOUNT,
                NewRole {
                    path: Some(path.into()),
                    ..new_role(name)
                },
            )
            .expect("created");
        }
        let list = |prefix: Option<&str>, marker: Option<String>, max: Option<i64>| {
            store
                .read(|tx| {
                    list_roles(
                        tx,
                        ACCOUNT,
                        prefix,
                        &PageRequest {
                            marker,
                            max_items: max,
                        },
                    )
                })
                .expect("listed")
        };
        let names =
            |p: &Page<RoleDetails>| p.items.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&list(None, None, None)), ["A", "b", "c", "D"]);
        assert_eq!(names(&list(Some("/x/"), None, None)), ["b", "c"]);
        let first = list(None, None, Some(3));
        assert_eq!(names(&first), ["A", "b", "c"]);
        let rest = list(None, first.marker.clone(), Some(3));
        assert_eq!(names(&rest), ["D"]);
        assert!(!rest.is_truncated());
    }
}
