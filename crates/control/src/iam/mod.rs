//! IAM as records: roles, customer and AWS managed policies, attachments and inline
//! policies, and the questions other services ask of them ("may this role do X?").
