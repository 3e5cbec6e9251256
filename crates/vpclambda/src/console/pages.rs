//! The live regions of the console's pages, rendered from a [`Snapshot`] and the invoke
//! side's view of environments: the parts a stream replaces as they change. Forms stay
//! outside them (in `mod.rs`), so an update never eats what someone is typing.

use std::fmt::Write;

use control::eni::plan::{plan, Plan, PlanInput, SubnetState};
use control::lambda::Function;

use super::html::{esc, seg, table};
use super::snapshot::Snapshot;
use super::topology::{self, Placed};
use crate::invoke::FunctionEnvironments;
use crate::telemetry::{usable_addresses, RecentInvocation};

/// What a page shows besides the store's records.
pub struct Runtime {
    pub environments: Vec<FunctionEnvironments>,
    pub impaired: Vec<String>,
}

impl Runtime {
    fn placed(&self) -> Vec<Placed<'_>> {
        self.environments
            .iter()
            .flat_map(|f| {
                f.environments.iter().filter_map(|e| {
                    Some(Placed {
                        eni: e.eni.as_deref()?,
                        function: &f.function,
                        id: &e.id,
                    })
                })
            })
            .collect()
    }

    fn of(&self, function: &str) -> Option<&FunctionEnvironments> {
        self.environments.iter().find(|f| f.function == function)
    }
}

pub fn topology(snap: &Snapshot, rt: &Runtime, selected: Option<&str>) -> String {
    topology::render(snap, selected, &rt.placed(), &rt.impaired)
}

fn vpc_summary(f: &Function) -> String {
    match f.latest.settings.attached_vpc() {
        Some(v) => format!(
            "{} · {} subnets · {} groups",
            v.vpc_id,
            v.subnet_ids.len(),
            v.security_group_ids.len()
        ),
        None => "none".to_string(),
    }
}

fn link(f: &str) -> String {
    format!(
        "<a href=\"/_vpclambda/console/functions/{}\">{}</a>",
        seg(f),
        esc(f)
    )
}

pub fn functions(snap: &Snapshot, rt: &Runtime) -> String {
    let rows: Vec<Vec<String>> = snap
        .functions
        .iter()
        .map(|f| {
            let v = &f.latest;
            let envs = rt.of(&v.function_name);
            vec![
                link(&v.function_name),
                esc(v.status.state.as_str()),
                esc(&v.settings.runtime),
                format!("{} MB", v.settings.memory_size),
                esc(&vpc_summary(f)),
                f.reserved_concurrency
                    .map_or("unreserved".to_string(), |r| r.to_string()),
                envs.map_or(0, |e| e.executing).to_string(),
                envs.map_or(0, |e| e.environments.len()).to_string(),
            ]
        })
        .collect();
    table(
        "Functions",
        &[
            "Name",
            "State",
            "Runtime",
            "Memory",
            "VPC",
            "Reserved concurrency",
            "Running now",
            "Idle environments",
        ],
        &rows,
    )
}

/// The changing part of a function's page: state, concurrency, environments, recent
/// invocations.
pub fn function(
    snap: &Snapshot,
    rt: &Runtime,
    f: &Function,
    recent: &[RecentInvocation],
) -> String {
    let v = &f.latest;
    let s = &v.settings;
    let name = &v.function_name;
    let envs = rt.of(name);
    let mut out = String::from("<dl class=\"facts\">");
    let mut fact = |k: &str, val: String| {
        let _ = write!(out, "<dt>{}</dt><dd>{val}</dd>", esc(k));
    };
    let reason = v
        .status
        .state_reason
        .as_ref()
        .map(|r| format!(" — {}", esc(&format!("{r:?}"))))
        .unwrap_or_default();
    fact(
        "State",
        format!(
            "<span class=\"state\">{}</span>{reason}",
            esc(v.status.state.as_str())
        ),
    );
    fact("Runtime", esc(&s.runtime));
    fact("Handler", esc(&s.handler));
    fact("Memory", format!("{} MB", s.memory_size));
    fact("Timeout", format!("{} s", s.timeout));
    match s.attached_vpc() {
        Some(vpc) => {
            fact("VPC", esc(&vpc.vpc_id));
            fact("Subnets", esc(&vpc.subnet_ids.join(", ")));
            fact(
                "Security groups",
                esc(&snap.group_names(vpc.security_group_ids.iter().cloned())),
            );
        }
        None => fact("VPC", "none (the simulated internet)".into()),
    }
    fact(
        "Reserved concurrency",
        f.reserved_concurrency
            .map_or("unreserved".into(), |r| r.to_string()),
    );
    fact(
        "Running now",
        format!(
            "<span class=\"executing\">{}</span>",
            envs.map_or(0, |e| e.executing)
        ),
    );
    let tags = f
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    fact("Tags", esc(&tags));
    out.push_str("</dl>");

    let env_rows: Vec<Vec<String>> = envs
        .map(|e| e.environments.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let eni = e.eni.as_deref().and_then(|id| snap.eni(id));
            vec![
                format!("<code>{}</code>", esc(&e.id)),
                esc(&e.version),
                esc(e.state),
                format!(
                    "<span class=\"zone\">{}</span>",
                    esc(e.zone.as_deref().unwrap_or("—"))
                ),
                esc(e.eni.as_deref().unwrap_or("—")),
                esc(eni.map_or("—", |n| n.private_ip_address.as_str())),
            ]
        })
        .collect();
    out.push_str(&table(
        "Execution environments (between invocations)",
        &["Environment", "Version", "State", "Zone", "ENI", "ENI IP"],
        &env_rows,
    ));
    let inv_rows: Vec<Vec<String>> = recent
        .iter()
        .map(|r| {
            vec![
                esc(&time(r.at_ms)),
                esc(&r.version),
                format!("{:.2} ms", r.duration.as_secs_f64() * 1000.0),
                if r.function_error {
                    "<span class=\"bad\">function error</span>".into()
                } else {
                    "<span class=\"good\">success</span>".into()
                },
            ]
        })
        .collect();
    out.push_str(&table(
        "Recent invocations",
        &["When (UTC)", "Version", "Duration", "Outcome"],
        &inv_rows,
    ));
    out
}

pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

/// `eni-plan`'s figures for every VPC function at `peak`, and each subnet's.
pub fn capacity(snap: &Snapshot, plans: &[(String, PlanInput)], peak: u32) -> String {
    let mut out = format!(
        "<p>The seed's formula: in legacy mode each ENI carries 3 GB of concurrent \
         environment memory, so a function needs about peak concurrency × memory ÷ 3 GB \
         ENIs, each taking an address of its subnets; in hyperplane mode one ENI per subnet \
         and security-group set. Figures at a peak of <strong>{peak}</strong> concurrent \
         executions.</p>"
    );
    if plans.is_empty() {
        out.push_str("<p>No function is attached to a VPC.</p>");
    }
    for (name, input) in plans {
        let p: Plan = plan(input);
        let zones = p
            .zones
            .iter()
            .map(|z| format!("{}: {} free", z.availability_zone, z.free_addresses))
            .collect::<Vec<_>>()
            .join("; ");
        let rows = vec![
            vec!["Mode".into(), esc(&format!("{:?}", p.mode).to_lowercase())],
            vec!["Memory".into(), format!("{} MB", input.memory_mb)],
            vec![
                "Environments per ENI".into(),
                p.environments_per_eni
                    .map_or("shared".into(), |n| n.to_string()),
            ],
            vec!["ENIs now".into(), input.function_enis.to_string()],
            vec!["ENIs needed".into(), p.enis_needed.to_string()],
            vec![
                "New addresses needed".into(),
                p.new_addresses_needed.to_string(),
            ],
            vec![
                "Free addresses in its subnets".into(),
                p.free_addresses.to_string(),
            ],
            vec!["By zone".into(), esc(&zones)],
            vec![
                "Account ENIs".into(),
                format!(
                    "{} of {}",
                    input.account_enis_in_use, input.account_eni_quota
                ),
            ],
        ];
        let _ = write!(
            out,
            "<section class=\"plan\" aria-labelledby=\"plan-{id}\"><h2 id=\"plan-{id}\">{}</h2>{}",
            link(name),
            table("Capacity plan", &["Figure", "Value"], &rows),
            id = esc(&seg(name)),
        );
        if p.warnings.is_empty() {
            out.push_str("<p class=\"good\">No warnings.</p>");
        } else {
            out.push_str("<ul class=\"warnings\">");
            for w in &p.warnings {
                let _ = write!(out, "<li role=\"alert\">{}</li>", esc(w));
            }
            out.push_str("</ul>");
        }
        out.push_str("</section>");
    }
    let rows: Vec<Vec<String>> = snap
        .subnets
        .iter()
        .map(|s| {
            let free = i64::from(s.available_ip_address_count());
            let users: Vec<&str> = plans
                .iter()
                .filter(|(_, i)| i.subnets.iter().any(|x: &SubnetState| x.subnet_id == s.id))
                .map(|(n, _)| n.as_str())
                .collect();
            vec![
                esc(&s.id),
                esc(&s.availability_zone),
                esc(&s.cidr_block),
                free.to_string(),
                (usable_addresses(&s.cidr_block) - free).max(0).to_string(),
                snap.enis_in(&s.id).count().to_string(),
                esc(&users.join(", ")),
            ]
        })
        .collect();
    out.push_str(&table(
        "Subnets",
        &[
            "Subnet",
            "Zone",
            "CIDR",
            "Free IPs",
            "Used IPs",
            "ENIs",
            "Functions",
        ],
        &rows,
    ));
    out
}

/// Each zone of the account's subnets: healthy or impaired, and the environments there.
pub fn zones(snap: &Snapshot, rt: &Runtime) -> String {
    let rows: Vec<Vec<String>> = snap
        .zones()
        .into_iter()
        .map(|z| {
            let down = rt.impaired.iter().any(|i| i == z);
            let envs: Vec<String> = rt
                .environments
                .iter()
                .flat_map(|f| {
                    f.environments
                        .iter()
                        .filter(|e| e.zone.as_deref() == Some(z))
                        .map(|e| format!("{} ({})", f.function, &e.id[..8.min(e.id.len())]))
                })
                .collect();
            let subnets: Vec<&str> = snap
                .subnets
                .iter()
                .filter(|s| s.availability_zone == z)
                .map(|s| s.id.as_str())
                .collect();
            vec![
                format!("<span class=\"zone\">{}</span>", esc(z)),
                if down {
                    "<span class=\"bad\">impaired</span>".into()
                } else {
                    "<span class=\"good\">healthy</span>".into()
                },
                esc(&subnets.join(", ")),
                esc(&envs.join(", ")),
            ]
        })
        .collect();
    table(
        "Availability Zones",
        &["Zone", "Health", "Subnets", "Idle environments there"],
        &rows,
    )
}
