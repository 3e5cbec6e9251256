//! IAM's size quotas on policy documents and the `LimitExceeded` texts IAM returns for them.
//! IAM measures policies in characters and does not count white space. Must not parse the
//! documents: an oversized document is refused whatever it contains.

use crate::error::PolicyError;

/// Most characters (white space not counted) in one customer managed policy version.
pub const MANAGED_POLICY_MAX_SIZE: usize = 6_144;
/// Most characters (white space not counted) in all of one role's inline policies together.
pub const ROLE_INLINE_POLICIES_MAX_SIZE: usize = 10_240;
/// Most characters (white space not counted) in a role's trust policy (IAM's default quota).
pub const TRUST_POLICY_MAX_SIZE: usize = 2_048;

/// The size of `doc` as IAM counts it: characters other than white space.
pub fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Refuses a managed policy document over [`MANAGED_POLICY_MAX_SIZE`].
pub fn check_managed_policy_size(doc: &str) -> Result<(), PolicyError> {
    if policy_size(doc) > MANAGED_POLICY_MAX_SIZE {
        return Err(PolicyError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX_SIZE}"
        )));
    }
    Ok(())
}

/// Refuses a trust policy document over [`TRUST_POLICY_MAX_SIZE`].
pub fn check_trust_policy_size(doc: &str) -> Result<(), PolicyError> {
    if policy_size(doc) > TRUST_POLICY_MAX_SIZE {
        return Err(PolicyError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX_SIZE}"
        )));
    }
    Ok(())
}

/// Refuses a role whose inline policy documents (all of them, including the one being put)
/// add up to more than [`ROLE_INLINE_POLICIES_MAX_SIZE`].
pub fn check_role_inline_policies_size(role_name: &str, docs: &[&str]) -> Result<(), PolicyError> {
    let total: usize = docs.iter().map(|doc| policy_size(doc)).sum();
    if total > ROLE_INLINE_POLICIES_MAX_SIZE {
        return Err(PolicyError::LimitExceeded(format!(
            "Maximum policy size of {ROLE_INLINE_POLICIES_MAX_SIZE} bytes exceeded for role {role_name}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_ignores_white_space() {
        assert_eq!(policy_size(""), 0);
        assert_eq!(policy_size("{ \"a\" :\n\t1 }"), 7);
        assert_eq!(policy_size("é"), 1);
    }

    #[test]
    fn limits_table() {
        let of = |n: usize| "x".repeat(n);
        let padded = |n: usize| format!("{}{}", of(n), " \n".repeat(5_000));
        let cases: Vec<(Result<(), PolicyError>, bool)> = vec![
            (check_managed_policy_size(&of(6_144)), true),
            (check_managed_policy_size(&padded(6_144)), true),
            (check_managed_policy_size(&of(6_145)), false),
            (check_trust_policy_size(&of(2_048)), true),
            (check_trust_policy_size(&padded(2_048)), true),
            (check_trust_policy_size(&of(2_049)), false),
            (check_role_inline_policies_size("r", &[&of(10_240)]), true),
            (
                check_role_inline_policies_size("r", &[&of(5_000), &of(5_240)]),
                true,
            ),
            (
                check_role_inline_policies_size("r", &[&of(5_000), &of(5_241)]),
                false,
            ),
            (check_role_inline_policies_size("r", &[]), true),
        ];
        for (i, (result, ok)) in cases.into_iter().enumerate() {
            assert_eq!(result.is_ok(), ok, "case {i}");
        }
    }

    #[test]
    fn limit_messages_are_iams() {
        let of = |n: usize| "x".repeat(n);
        assert_eq!(
            check_managed_policy_size(&of(7_000)),
            Err(PolicyError::LimitExceeded(
                "Cannot exceed quota for PolicySize: 6144".into()
            ))
        );
        assert_eq!(
            check_trust_policy_size(&of(3_000)),
            Err(PolicyError::LimitExceeded(
                "Cannot exceed quota for ACLSizePerRole: 2048".into()
            ))
        );
        assert_eq!(
            check_role_inline_policies_size("my-role", &[&of(10_241)]),
            Err(PolicyError::LimitExceeded(
                "Maximum policy size of 10240 bytes exceeded for role my-role".into()
            ))
        );
    }
}
