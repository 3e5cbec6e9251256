//! The VPC topology page's picture: each VPC as a box of Availability Zone columns, each
//! zone's subnets with their free and used addresses and route table targets, each
//! subnet's ENIs with their private IPs and security groups, the internet gateway above;
//! a selected function's ENIs highlighted and its traffic's way out spelled out. The same
//! figures are in tables under the picture, for screen readers and for copying.

use std::fmt::Write;

use control::ec2::model::{NetworkInterface, Subnet, Vpc};

use super::html::{esc, table};
use super::snapshot::{target_name, Snapshot};
use crate::telemetry::usable_addresses;

const COLUMN: i64 = 420;
const GAP: i64 = 20;
const ROW: i64 = 18;

/// Where each environment is, for drawing it beside its ENI.
pub struct Placed<'a> {
    pub eni: &'a str,
    pub function: &'a str,
    pub id: &'a str,
}

fn subnet_height(snap: &Snapshot, s: &Subnet) -> i64 {
    let enis = snap.enis_in(&s.id).count() as i64;
    let routes = snap.route_table_of(s).map_or(0, |t| t.routes.len()) as i64;
    60 + ROW * (2 * enis).max(1) + ROW * routes
}

/// The SVG of one VPC.
fn vpc_svg(
    snap: &Snapshot,
    vpc: &Vpc,
    selected: Option<&str>,
    envs: &[Placed],
    impaired: &[String],
) -> String {
    let subnets: Vec<&Subnet> = snap.subnets_of(&vpc.id).collect();
    let mut zones: Vec<&str> = subnets
        .iter()
        .map(|s| s.availability_zone.as_str())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    let columns = zones.len().max(1) as i64;
    let column_heights: Vec<i64> = zones
        .iter()
        .map(|z| {
            subnets
                .iter()
                .filter(|s| s.availability_zone == *z)
                .map(|s| subnet_height(snap, s) + GAP)
                .sum::<i64>()
        })
        .collect();
    let gateways = snap.gateways_of(&vpc.id);
    let top = if gateways.is_empty() { 10 } else { 70 };
    let height = top + 60 + column_heights.iter().copied().max().unwrap_or(40) + 10;
    let width = columns * (COLUMN + GAP) + GAP + 20;
    let name = vpc
        .tags
        .iter()
        .find(|t| t.key == "Name")
        .map(|t| format!(" “{}”", t.value))
        .unwrap_or_default();
    let mut svg = format!(
        "<svg class=\"topology\" role=\"img\" aria-labelledby=\"t-{id}\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"t-{id}\">{title}</title>",
        id = esc(&vpc.id),
        title = esc(&format!(
            "{}{name} {} with {} subnets in {} zones",
            vpc.id,
            vpc.cidr_block,
            subnets.len(),
            zones.len()
        )),
    );
    for (i, g) in gateways.iter().enumerate() {
        let x = 20 + i as i64 * 200;
        let _ = write!(
            svg,
            "<g class=\"igw\" data-id=\"{id}\"><rect x=\"{x}\" y=\"8\" width=\"180\" height=\"36\" rx=\"6\"/>\
             <text x=\"{tx}\" y=\"31\">{id} (internet gateway)</text>\
             <line x1=\"{lx}\" y1=\"44\" x2=\"{lx}\" y2=\"{top}\"/></g>",
            id = esc(&g.id),
            tx = x + 8,
            lx = x + 90,
        );
    }
    let _ = write!(
        svg,
        "<g class=\"vpc\" data-id=\"{id}\"><rect x=\"10\" y=\"{top}\" width=\"{w}\" height=\"{h}\" rx=\"10\"/>\
         <text class=\"title\" x=\"24\" y=\"{ty}\">{label}</text></g>",
        id = esc(&vpc.id),
        w = width - 20,
        h = height - top - 5,
        ty = top + 24,
        label = esc(&format!("{}{name} · {}", vpc.id, vpc.cidr_block)),
    );
    for (c, zone) in zones.iter().enumerate() {
        let x = 10 + GAP + c as i64 * (COLUMN + GAP);
        let down = impaired.iter().any(|z| z == zone);
        let _ = write!(
            svg,
            "<g class=\"az{cls}\" data-zone=\"{z}\"><rect x=\"{x}\" y=\"{y}\" width=\"{COLUMN}\" height=\"{h}\" rx=\"8\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{label}</text></g>",
            cls = if down { " impaired" } else { "" },
            z = esc(zone),
            y = top + 34,
            h = column_heights[c] + 20,
            tx = x + 10,
            ty = top + 50,
            label = esc(&format!("{zone}{}", if down { " (impaired)" } else { "" })),
        );
        let mut y = top + 60;
        for s in subnets.iter().filter(|s| s.availability_zone == *zone) {
            y = subnet_svg(&mut svg, snap, s, x + 10, y, selected, envs) + GAP;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Draws one subnet at (x, y); returns its bottom.
fn subnet_svg(
    svg: &mut String,
    snap: &Snapshot,
    s: &Subnet,
    x: i64,
    y: i64,
    selected: Option<&str>,
    envs: &[Placed],
) -> i64 {
    let h = subnet_height(snap, s);
    let free = i64::from(s.available_ip_address_count());
    let used = (usable_addresses(&s.cidr_block) - free).max(0);
    let _ = write!(
        svg,
        "<g class=\"subnet\" data-id=\"{id}\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\"/>\
         <text class=\"title\" x=\"{tx}\" y=\"{t1}\">{id} · {cidr}</text>\
         <text class=\"ips\" x=\"{tx}\" y=\"{t2}\">{free} free · {used} used</text></g>",
        id = esc(&s.id),
        w = COLUMN - 20,
        tx = x + 8,
        t1 = y + 18,
        t2 = y + 36,
        cidr = esc(&s.cidr_block),
    );
    let mut row = y + 56;
    let mut any = false;
    for e in snap.enis_in(&s.id) {
        any = true;
        let users = snap.users_of(&e.id);
        let mine = selected.is_some_and(|f| users.contains(&f));
        let on_it: Vec<&Placed> = envs.iter().filter(|p| p.eni == e.id).collect();
        let (label, groups) = eni_label(snap, e, &users);
        let _ = write!(
            svg,
            "<g class=\"eni{cls}\" data-id=\"{id}\" data-ip=\"{ip}\">\
             <text x=\"{tx}\" y=\"{row}\">{label}</text>\
             <text class=\"groups\" x=\"{gx}\" y=\"{gy}\">{groups}</text>",
            cls = if mine { " selected" } else { "" },
            id = esc(&e.id),
            ip = esc(&e.private_ip_address),
            tx = x + 16,
            gx = x + 28,
            gy = row + ROW,
            label = esc(&label),
            groups = esc(&groups),
        );
        for (i, p) in on_it.iter().enumerate() {
            let _ = write!(
                svg,
                "<circle class=\"env\" cx=\"{cx}\" cy=\"{cy}\" r=\"5\"><title>{t}</title></circle>",
                cx = x + COLUMN - 36 - i as i64 * 14,
                cy = row - 5,
                t = esc(&format!("environment {} of {}", p.id, p.function)),
            );
        }
        svg.push_str("</g>");
        row += 2 * ROW;
    }
    if !any {
        let _ = write!(
            svg,
            "<text class=\"none\" x=\"{}\" y=\"{row}\">no network interfaces</text>",
            x + 16
        );
        row += ROW;
    }
    if let Some(t) = snap.route_table_of(s) {
        for r in &t.routes {
            let dest = r
                .destination_cidr_block
                .as_deref()
                .or(r.destination_ipv6_cidr_block.as_deref())
                .unwrap_or("?");
            let _ = write!(
                svg,
                "<text class=\"route\" x=\"{}\" y=\"{row}\">{}</text>",
                x + 16,
                esc(&format!(
                    "{}: {dest} → {}{}",
                    t.id,
                    target_name(&r.target),
                    if r.state == "active" {
                        ""
                    } else {
                        " (blackhole)"
                    }
                )),
            );
            row += ROW;
        }
    }
    y + h
}

/// An ENI's two lines: address, id and what it serves; its security groups.
fn eni_label(snap: &Snapshot, e: &NetworkInterface, users: &[&str]) -> (String, String) {
    let groups = snap.group_names(e.groups.iter().map(|g| g.id.clone()));
    let kind = if users.is_empty() {
        e.interface_type.clone()
    } else {
        format!("λ {}", users.join(", "))
    };
    let groups = if groups.is_empty() {
        "no security groups".to_string()
    } else {
        format!("groups: {groups}")
    };
    (
        format!("{} {} · {kind}", e.private_ip_address, e.id),
        groups,
    )
}

/// The picture, the tables, and the selected function's way out.
pub fn render(
    snap: &Snapshot,
    selected: Option<&str>,
    envs: &[Placed],
    impaired: &[String],
) -> String {
    let mut out = String::new();
    if snap.vpcs.is_empty() {
        out.push_str("<p>No VPCs in this account and region yet.</p>");
    }
    // The account's own VPCs first, the default VPC after them.
    let mut vpcs: Vec<&Vpc> = snap.vpcs.iter().collect();
    vpcs.sort_by_key(|v| v.is_default);
    for vpc in vpcs {
        let _ = write!(
            out,
            "<section class=\"vpc-section\" aria-label=\"{}\"><figure>{}</figure></section>",
            esc(&vpc.id),
            vpc_svg(snap, vpc, selected, envs, impaired)
        );
    }
    if let Some(f) = selected {
        out.push_str(&paths(snap, f));
    }
    let subnets: Vec<Vec<String>> = snap
        .subnets
        .iter()
        .map(|s| {
            let free = i64::from(s.available_ip_address_count());
            vec![
                esc(&s.id),
                esc(&s.vpc_id),
                esc(&s.availability_zone),
                esc(&s.cidr_block),
                free.to_string(),
                (usable_addresses(&s.cidr_block) - free).max(0).to_string(),
                esc(&snap
                    .route_table_of(s)
                    .map(|t| {
                        t.routes
                            .iter()
                            .map(|r| {
                                format!(
                                    "{} → {}",
                                    r.destination_cidr_block
                                        .as_deref()
                                        .or(r.destination_prefix_list_id.as_deref())
                                        .unwrap_or("?"),
                                    target_name(&r.target)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default()),
            ]
        })
        .collect();
    out.push_str(&table(
        "Subnets",
        &[
            "Subnet", "VPC", "Zone", "CIDR", "Free IPs", "Used IPs", "Routes",
        ],
        &subnets,
    ));
    let enis: Vec<Vec<String>> = snap
        .enis
        .iter()
        .map(|e| {
            vec![
                esc(&e.id),
                format!("<span class=\"ip\">{}</span>", esc(&e.private_ip_address)),
                esc(&e.subnet_id),
                esc(&e.availability_zone),
                esc(&e.interface_type),
                esc(&snap.users_of(&e.id).join(", ")),
                esc(&snap.group_names(e.groups.iter().map(|g| g.id.clone()))),
                esc(&e.status),
                esc(&tags(&e.tags)),
            ]
        })
        .collect();
    out.push_str(&table(
        "Network interfaces",
        &[
            "ENI",
            "Private IP",
            "Subnet",
            "Zone",
            "Type",
            "Function",
            "Security groups",
            "Status",
            "Tags",
        ],
        &enis,
    ));
    out
}

fn tags(tags: &[control::ec2::model::Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the selected function's traffic leaves each of its ENIs: the subnet's route table,
/// and for each route the hop it takes (a NAT gateway's own subnet routes on).
fn paths(snap: &Snapshot, function: &str) -> String {
    let mut items = String::new();
    for e in snap
        .enis
        .iter()
        .filter(|e| snap.users_of(&e.id).contains(&function))
    {
        let Some(subnet) = snap.subnets.iter().find(|s| s.id == e.subnet_id) else {
            continue;
        };
        let mut hops = Vec::new();
        if let Some(t) = snap.route_table_of(subnet) {
            for r in &t.routes {
                let dest = r
                    .destination_cidr_block
                    .as_deref()
                    .or(r.destination_prefix_list_id.as_deref())
                    .unwrap_or("?");
                let via = match &r.target {
                    control::ec2::model::RouteTarget::NatGateway(id) => {
                        let onward = snap
                            .nat_gateways
                            .iter()
                            .find(|n| &n.id == id)
                            .and_then(|n| snap.subnets.iter().find(|s| s.id == n.subnet_id))
                            .and_then(|s| snap.route_table_of(s))
                            .and_then(|t| {
                                t.routes.iter().find(|r| {
                                    r.destination_cidr_block.as_deref() == Some("0.0.0.0/0")
                                })
                            })
                            .map(|r| format!(" → {}", target_name(&r.target)))
                            .unwrap_or_default();
                        format!("{id}{onward}")
                    }
                    other => target_name(other).to_string(),
                };
                hops.push(format!("{dest} via {via}"));
            }
        }
        let _ = write!(
            items,
            "<li>{} ({}, {}): {}</li>",
            esc(&e.id),
            esc(&e.private_ip_address),
            esc(&subnet.id),
            esc(&hops.join("; "))
        );
    }
    if items.is_empty() {
        items.push_str("<li>This function has no network interfaces.</li>");
    }
    format!(
        "<section aria-labelledby=\"paths\"><h2 id=\"paths\">Where {}'s traffic may go</h2>\
         <p>Security groups then decide what is allowed on each hop.</p><ul>{items}</ul></section>",
        esc(function)
    )
}
