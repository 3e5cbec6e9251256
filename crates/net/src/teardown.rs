//! Reverse-order, best-effort teardown of the kernel objects one setup created.
//!
//! Owns the order (last created, first removed: rules before routes before links before
//! namespaces, netavark#1482) and the tolerance of missing objects: a namespace that is
//! already gone means everything inside it is gone too (netavark#1451). Must not decide what
//! to tear down: the caller records each object as it creates it, or rebuilds the list from
//! the store after a crash.

use std::collections::HashMap;
use std::fmt;

use crate::{Error, Ipv4Cidr, Netlink, Netns, Nft, NftFamily, Result, Route, Rule};

/// One kernel object to remove. Namespaces are named, so a step stays meaningful after a
/// restart and after the namespace vanished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Netns {
        name: String,
    },
    Link {
        netns: String,
        name: String,
    },
    Address {
        netns: String,
        link: String,
        address: Ipv4Cidr,
    },
    Route {
        netns: String,
        route: Route,
    },
    Rule {
        netns: String,
        rule: Rule,
    },
    NftTable {
        netns: String,
        family: NftFamily,
        table: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Netns { name } => write!(f, "netns {name}"),
            Step::Link { netns, name } => write!(f, "link {name} in {netns}"),
            Step::Address {
                netns,
                link,
                address,
            } => write!(f, "address {address} on {link} in {netns}"),
            Step::Route { netns, route } => {
                write!(
                    f,
                    "route {} table {} in {netns}",
                    route.destination, route.table
                )
            }
            Step::Rule { netns, rule } => write!(
                f,
                "rule {}: from {} lookup {} in {netns}",
                rule.priority, rule.from, rule.table
            ),
            Step::NftTable {
                netns,
                family,
                table,
            } => write!(f, "nft table {family} {table} in {netns}"),
        }
    }
}

/// A step that failed during [`Teardown::run`]; the steps after it still ran.
#[derive(Debug)]
pub struct TeardownFailure {
    pub step: String,
    pub error: Error,
}

/// Objects in creation order; [`Teardown::run`] removes them in reverse.
#[derive(Clone, Debug, Default)]
pub struct Teardown {
    steps: Vec<Step>,
}

impl Teardown {
    pub fn new() -> Teardown {
        Teardown::default()
    }

    /// Records an object right after creating it (or right before, when its creation may
    /// fail halfway: removing a missing object is success).
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// The recorded steps, in creation order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Removes every recorded object, last first. Every step runs even when an earlier one
    /// failed; the failures are returned together. Running it again is harmless.
    pub async fn run(&self) -> Result<()> {
        let mut connections: HashMap<String, Netlink> = HashMap::new();
        let mut nft: Option<Nft> = None;
        let mut failures = Vec::new();
        for step in self.steps.iter().rev() {
            let result = match step {
                Step::Netns { name } => {
                    // Close our socket first so the kernel can free the namespace right away.
                    connections.remove(name);
                    Netns::delete(name)
                }
                Step::Link { netns, name } => match connect(&mut connections, netns).await {
                    Ok(Some(netlink)) => netlink.delete_link(name).await,
                    other => other.map(drop),
                },
                Step::Address {
                    netns,
                    link,
                    address,
                } => match connect(&mut connections, netns).await {
                    Ok(Some(netlink)) => netlink.delete_address(link, *address).await,
                    other => other.map(drop),
                },
                Step::Route { netns, route } => match connect(&mut connections, netns).await {
                    Ok(Some(netlink)) => netlink.delete_route(route).await,
                    other => other.map(drop),
                },
                Step::Rule { netns, rule } => match connect(&mut connections, netns).await {
                    Ok(Some(netlink)) => netlink.delete_rule(rule).await,
                    other => other.map(drop),
                },
                Step::NftTable {
                    netns,
                    family,
                    table,
                } => delete_table(&mut nft, netns, *family, table).await,
            };
            if let Err(error) = result {
                tracing::warn!(%step, %error, "teardown step failed");
                failures.push(TeardownFailure {
                    step: step.to_string(),
                    error,
                });
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Teardown(failures))
        }
    }
}

/// Opens the named namespace, or `None` when it is gone.
fn open_if_present(name: &str) -> Result<Option<Netns>> {
    match Netns::open(name) {
        Ok(netns) => Ok(Some(netns)),
        Err(Error::NetnsNotFound(_) | Error::NotANetns(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn connect<'a>(
    connections: &'a mut HashMap<String, Netlink>,
    name: &str,
) -> Result<Option<&'a Netlink>> {
    if !connections.contains_key(name) {
        let Some(netns) = open_if_present(name)? else {
            return Ok(None);
        };
        let netlink = Netlink::connect(&netns).await?;
        connections.insert(name.to_owned(), netlink);
    }
    Ok(connections.get(name))
}

async fn delete_table(
    nft: &mut Option<Nft>,
    netns: &str,
    family: NftFamily,
    table: &str,
) -> Result<()> {
    let Some(namespace) = open_if_present(netns)? else {
        return Ok(());
    };
    let loaded = match nft {
        Some(loaded) => *loaded,
        None => *nft.insert(Nft::load()?),
    };
    loaded.delete_table(&namespace, family, table).await
}
