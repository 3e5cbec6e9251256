//! Operator commands served on the admin socket and their command-line clients:
//! `vpclambda az impair|restore|list` (simulated Availability Zone outages) and
//! `vpclambda eni-plan` (the ENIs and addresses a function needs at a peak concurrency, with
//! the seed's scaling guidance as warnings).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::Json;
use control::ec2::lookup;
use control::ec2::model::kind as ec2_kind;
use control::eni::hyperplane::{SharedEni, SHARED_ENI};
use control::eni::plan::{plan, Plan, PlanInput, SubnetState};
use control::eni::{EniMode, LEGACY_ENI};
use control::lambda::{kind as lambda_kind, Function};
use control::{Scope, StoreError, TxExt};
use serde::Deserialize;

use crate::admin::call;
use crate::server::AppState;

type Reply<T> = Result<Json<T>, (StatusCode, String)>;

pub async fn impair(
    State(state): State<Arc<AppState>>,
    UrlPath(zone): UrlPath<String>,
) -> Json<Vec<String>> {
    impair_zone(&state, &zone);
    Json(state.zones.impaired())
}

/// Impairs `zone` and drains the environments idle there (the admin socket's and the
/// console's AZ drill).
pub fn impair_zone(state: &AppState, zone: &str) {
    // Marked first: an environment finishing from now on is not put back, and the drain
    // below takes every one already idle there.
    state.zones.impair(zone);
    let drained = state.invoke.drain_zone(zone);
    tracing::info!(%zone, drained, "zone impaired");
}

pub async fn restore(
    State(state): State<Arc<AppState>>,
    UrlPath(zone): UrlPath<String>,
) -> Json<Vec<String>> {
    state.zones.restore(&zone);
    Json(state.zones.impaired())
}

pub async fn impaired(State(state): State<Arc<AppState>>) -> Json<Vec<String>> {
    Json(state.zones.impaired())
}

#[derive(Deserialize)]
pub struct PlanQuery {
    function: String,
    peak: u32,
    account: Option<String>,
    region: Option<String>,
}

pub async fn eni_plan(
    State(state): State<Arc<AppState>>,
    Query(q): Query<PlanQuery>,
) -> Reply<Plan> {
    let scope = Scope::new(
        q.account
            .unwrap_or_else(|| control::accounts::DEFAULT_ACCOUNT_ID.into()),
        q.region.unwrap_or_else(|| state.config.region.clone()),
    );
    let state2 = state.clone();
    let input =
        tokio::task::spawn_blocking(move || plan_input(&state2, &scope, &q.function, q.peak))
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .ok_or((StatusCode::NOT_FOUND, "Function not found".to_string()))?;
    Ok(Json(plan(&input)))
}

/// Everything the plan needs, read in one snapshot; `None` if the function does not exist.
pub fn plan_input(
    state: &AppState,
    scope: &Scope,
    name: &str,
    peak: u32,
) -> Result<Option<PlanInput>, StoreError> {
    let mode = state.config.eni_mode;
    state.store.read(|tx| {
        let Some(function) = tx.get_json::<Function>(lambda_kind::FUNCTION, scope, name)? else {
            return Ok(None);
        };
        let settings = &function.latest.settings;
        let vpc = settings.attached_vpc().cloned();
        let others: Vec<Function> = tx.list_json(lambda_kind::FUNCTION, scope, "")?;
        let mut subnets = Vec::new();
        for id in vpc.iter().flat_map(|v| v.subnet_ids.iter()) {
            let Some(s) = lookup::subnet(tx, scope, id)? else {
                continue;
            };
            let shared_with = others
                .iter()
                .filter(|f| f.latest.function_name != name)
                .filter(|f| {
                    f.latest
                        .settings
                        .attached_vpc()
                        .is_some_and(|v| v.subnet_ids.contains(id))
                })
                .map(|f| f.latest.function_name.clone())
                .collect();
            subnets.push(SubnetState {
                subnet_id: s.id,
                availability_zone: s.availability_zone,
                free_addresses: s.available_ip_address_count,
                shared_with,
            });
        }
        let record_kind = match mode {
            EniMode::Legacy => LEGACY_ENI,
            EniMode::Hyperplane => SHARED_ENI,
        };
        let function_enis = tx
            .list_json::<SharedEni>(record_kind, scope, "")?
            .iter()
            .filter(|e| e.users.contains(name))
            .count() as u32;
        Ok(Some(PlanInput {
            mode,
            memory_mb: settings.memory_size,
            peak_concurrency: peak,
            subnets,
            security_group_count: vpc.map_or(0, |v| v.security_group_ids.len()),
            account_eni_quota: state.config.eni_quota,
            account_enis_in_use: tx.list(ec2_kind::NETWORK_INTERFACE, scope, "")?.len() as u32,
            function_enis,
        }))
    })
}

#[derive(clap::Subcommand, Debug)]
pub enum AzCommand {
    /// Simulate an outage of a zone: new environments go to the other zones.
    Impair { zone: String },
    /// End a simulated outage.
    Restore { zone: String },
    /// The impaired zones.
    List,
}

#[derive(clap::Args, Debug)]
pub struct AzArgs {
    #[command(subcommand)]
    command: AzCommand,
    /// The running daemon's data dir (where `admin.sock` is).
    #[arg(long, env = "VPCLAMBDA_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR, global = true)]
    data_dir: PathBuf,
}

pub fn az(args: AzArgs) -> anyhow::Result<()> {
    let reply = match &args.command {
        AzCommand::Impair { zone } => {
            call(&args.data_dir, "POST", &format!("/az/{zone}/impair"), None)?
        }
        AzCommand::Restore { zone } => {
            call(&args.data_dir, "POST", &format!("/az/{zone}/restore"), None)?
        }
        AzCommand::List => call(&args.data_dir, "GET", "/az", None)?,
    };
    let zones: Vec<String> = serde_json::from_value(reply)?;
    if zones.is_empty() {
        println!("impaired zones: none");
    } else {
        println!("impaired zones: {}", zones.join(", "));
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct EniPlanArgs {
    /// The function's name.
    #[arg(long)]
    function: String,
    /// The peak number of concurrent executions to plan for.
    #[arg(long)]
    peak_concurrency: u32,
    #[arg(long, default_value = control::accounts::DEFAULT_ACCOUNT_ID)]
    account: String,
    /// The function's region (the daemon's default region when absent).
    #[arg(long)]
    region: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// The running daemon's data dir (where `admin.sock` is).
    #[arg(long, env = "VPCLAMBDA_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

pub fn eni_plan_cli(args: EniPlanArgs) -> anyhow::Result<()> {
    let mut path = format!(
        "/eni-plan?function={}&peak={}&account={}",
        args.function, args.peak_concurrency, args.account
    );
    if let Some(r) = &args.region {
        path.push_str(&format!("&region={r}"));
    }
    let reply = call(&args.data_dir, "GET", &path, None)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        return Ok(());
    }
    let p: Plan = serde_json::from_value(reply)?;
    println!(
        "ENI plan for {} at {} concurrent executions ({:?} mode)",
        args.function, args.peak_concurrency, p.mode
    );
    if let Some(per) = p.environments_per_eni {
        println!("  environments per ENI: {per}");
    }
    println!(
        "  ENIs needed: {} ({} need new addresses)",
        p.enis_needed, p.new_addresses_needed
    );
    println!(
        "  free addresses in the function's subnets: {}",
        p.free_addresses
    );
    for z in &p.zones {
        println!(
            "    {}: {} free in {}",
            z.availability_zone,
            z.free_addresses,
            z.subnets.join(", ")
        );
    }
    if p.warnings.is_empty() {
        println!("  no warnings");
    }
    for w in &p.warnings {
        println!("  warning: {w}");
    }
    Ok(())
}
