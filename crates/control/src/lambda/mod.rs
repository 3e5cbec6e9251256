//! Lambda functions as records: configuration, code, versions, aliases, concurrency
//! settings, and the function state machine.
