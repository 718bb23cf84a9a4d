//! `kubectl polyfleet report`: the trade journal's report of a period, from the database the
//! cluster's journal agent writes: the same `report.json` and `report.html` as `polyfleet report`
//! (`polyfleet_backtest::journal_read`). The journal agent's Deployment (label
//! `app.kubernetes.io/component=journal`, the chart's `journal.enabled`) names its database in its
//! `POLYFLEET_JOURNAL_URL`, taken from a Secret; the plugin reads that Secret with the user's own
//! rights and never prints the URL. A database reachable only inside the cluster is reached
//! through `--via HOST:PORT` (after `kubectl port-forward svc/<database> 5432`), which keeps the
//! Secret's credentials; `--journal URL` bypasses the lookup.

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{EnvVar, Secret};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use polyfleet_backtest::journal_read::{self, AbQuery, Query};

use super::PluginError;

/// The journal agent's label.
pub const JOURNAL_SELECTOR: &str = "app.kubernetes.io/component=journal";
/// The journal agent's variable holding its database URL.
pub const JOURNAL_ENV: &str = "POLYFLEET_JOURNAL_URL";

/// `report`'s options (their `Debug` hides `journal`: it may carry a password).
#[derive(Clone, clap::Args)]
pub struct ReportArgs {
    /// Start of the period: RFC 3339 or a UTC date (2026-12-01). Default: the beginning.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the period (exclusive), same forms. Default: now.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this Strategy (of the namespace).
    #[arg(long)]
    pub strategy: Option<String>,
    /// Directory the report is written to.
    #[arg(long, default_value = "journal-report")]
    pub out: PathBuf,
    /// Namespace of the journal agent (default: the namespace, then wherever one runs).
    #[arg(long)]
    pub journal_namespace: Option<String>,
    /// Reach the journal's database at HOST:PORT (a `kubectl port-forward`), with the
    /// credentials of the journal agent's Secret.
    #[arg(long, value_name = "HOST:PORT")]
    pub via: Option<String>,
    /// The journal's URL itself (`postgres://…`, `sqlite://…`): no lookup in the cluster.
    #[arg(long, env = "POLYFLEET_JOURNAL_URL", hide_env_values = true)]
    pub journal: Option<String>,
    /// The A/B comparison.
    #[command(flatten)]
    pub ab: AbQuery,
    /// Compare a shadow Strategy with its live twin order by order, `SHADOW,LIVE`.
    #[arg(long, value_name = "SHADOW,LIVE")]
    pub twins: Option<String>,
}

impl std::fmt::Debug for ReportArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportArgs")
            .field("since", &self.since)
            .field("until", &self.until)
            .field("strategy", &self.strategy)
            .field("out", &self.out)
            .field("journal_namespace", &self.journal_namespace)
            .field("via", &self.via)
            .field("journal", &self.journal.as_ref().map(|_| "<hidden>"))
            .field("ab", &self.ab)
            .field("twins", &self.twins)
            .finish()
    }
}

/// Where the journal's URL came from (printed; never the URL).
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    /// The URL (credentials included: never shown).
    pub url: String,
    /// `Secret ns/name key K of Deployment ns/name`, or `--journal`.
    pub from: String,
}

/// Debug output names the source and hides the URL (it may carry a password).
impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found").field("url", &"<hidden>").field("from", &self.from).finish()
    }
}

/// `url` with its host and port replaced by `via` (`HOST:PORT`), user, password, database and
/// parameters kept.
pub fn via(url: &str, via: &str) -> Result<String, PluginError> {
    let bad = |why: &str| PluginError::Usage(format!("--via: {why}"));
    if via.is_empty() || via.contains(['/', '@', '?']) || !via.contains(':') {
        return Err(bad("HOST:PORT expected"));
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("the journal's URL has no host to replace"))?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    Ok(format!("{scheme}://{userinfo}{via}{tail}"))
}

/// The journal agent's Deployment: in `ns` (or `journal_ns` when given), else the only one in
/// the cluster the user may list.
async fn journal_deployment(client: &Client, ns: &str, journal_ns: Option<&str>) -> Result<Deployment, PluginError> {
    let lp = ListParams::default().labels(JOURNAL_SELECTOR);
    let here = journal_ns.unwrap_or(ns);
    let mut found = Api::<Deployment>::namespaced(client.clone(), here).list(&lp).await?.items;
    if found.is_empty() && journal_ns.is_none() {
        found = Api::<Deployment>::all(client.clone()).list(&lp).await?.items;
    }
    match found.len() {
        0 => Err(PluginError::Usage(format!(
            "no journal agent (a Deployment labelled {JOURNAL_SELECTOR}) in namespace {here}{}: install the chart with \
             journal.enabled=true, or give --journal URL",
            if journal_ns.is_none() { " or elsewhere" } else { "" }
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(PluginError::Usage(format!(
            "{} journal agents ({}): pick one with --journal-namespace",
            found.len(),
            found
                .iter()
                .map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The journal agent's database URL, from its Deployment's environment and Secret.
pub async fn find(client: &Client, ns: &str, journal_ns: Option<&str>) -> Result<Found, PluginError> {
    let d = journal_deployment(client, ns, journal_ns).await?;
    let (dns, dname) = (d.namespace().unwrap_or_default(), d.name_any());
    let env: Option<EnvVar> = d
        .spec
        .and_then(|s| s.template.spec)
        .into_iter()
        .flat_map(|p| p.containers)
        .flat_map(|c| c.env.unwrap_or_default())
        .find(|e| e.name == JOURNAL_ENV);
    let missing = || PluginError::Usage(format!("Deployment {dns}/{dname} sets no {JOURNAL_ENV}: give --journal URL"));
    let env = env.ok_or_else(missing)?;
    if let Some(url) = env.value.filter(|v| !v.is_empty()) {
        return Ok(Found { url, from: format!("Deployment {dns}/{dname}") });
    }
    let key_ref = env.value_from.and_then(|v| v.secret_key_ref).ok_or_else(missing)?;
    let secret = Api::<Secret>::namespaced(client.clone(), &dns).get_opt(&key_ref.name).await?.ok_or_else(|| {
        PluginError::Usage(format!("Secret {dns}/{} (the journal agent's {JOURNAL_ENV}) not found", key_ref.name))
    })?;
    let bytes = secret
        .data
        .and_then(|mut d| d.remove(&key_ref.key))
        .map(|b| b.0)
        .or_else(|| secret.string_data.and_then(|mut d| d.remove(&key_ref.key)).map(String::into_bytes))
        .ok_or_else(|| PluginError::Usage(format!("Secret {dns}/{} has no key {}", key_ref.name, key_ref.key)))?;
    let url = String::from_utf8(bytes)
        .map_err(|_| PluginError::Usage(format!("Secret {dns}/{} key {}: not text", key_ref.name, key_ref.key)))?;
    Ok(Found {
        url: url.trim().to_string(),
        from: format!("Secret {dns}/{} key {} of Deployment {dns}/{dname}", key_ref.name, key_ref.key),
    })
}

/// Runs `report`: finds the journal, reads the period of the namespace's strategies (every
/// namespace's with `all`), writes the report; the summary to print.
pub async fn run(client: &Client, ns: &str, all: bool, args: &ReportArgs) -> Result<String, PluginError> {
    let found = match &args.journal {
        Some(url) => Found { url: url.clone(), from: "--journal".into() },
        None => find(client, ns, args.journal_namespace.as_deref()).await?,
    };
    let url = match &args.via {
        Some(v) => via(&found.url, v)?,
        None => found.url.clone(),
    };
    let query = Query {
        since: args.since.clone(),
        until: args.until.clone(),
        namespace: (!all).then(|| ns.to_string()),
        strategy: args.strategy.clone(),
        ab: Some(args.ab.clone()),
        twins: args.twins.clone(),
    };
    let journal_error = |e: journal_read::ReadError| PluginError::Journal(format!("{e} (journal from {})", found.from));
    let report = journal_read::report(&url, &query).await.map_err(journal_error)?;
    journal_read::write(&report, &args.out).map_err(journal_error)?;
    let (lines, notes) = journal_read::summary(&report);
    let mut text = format!("journal: {} ({})\n", journal_read::source(&url), found.from);
    for l in lines.iter().chain(&notes) {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str(&format!("report in {}\n", args.out.display()));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_keeps_the_credentials_and_the_database() {
        let url = "postgres://journal:s3cret@polyfleet-db-rw.trading.svc:5432/journal?sslmode=disable";
        assert_eq!(
            via(url, "127.0.0.1:15432").ok().as_deref(),
            Some("postgres://journal:s3cret@127.0.0.1:15432/journal?sslmode=disable")
        );
        assert_eq!(via("postgres://db:5432/j", "localhost:1").ok().as_deref(), Some("postgres://localhost:1/j"));
        for bad in ["", "host", "a/b:1", "u@h:1"] {
            assert!(via(url, bad).is_err(), "{bad}");
        }
        assert!(via("journal.db", "h:1").is_err(), "a file has no host");
    }

    #[test]
    fn debug_output_never_shows_the_journals_url() {
        let url = "postgres://journal:s3cret@db:5432/journal";
        let found = Found { url: url.into(), from: "--journal".into() };
        let shown = format!("{found:?}");
        assert!(!shown.contains("s3cret") && shown.contains("--journal"), "{shown}");
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            report: ReportArgs,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(["report", "--journal", url]).unwrap();
        assert_eq!(cli.report.journal.as_deref(), Some(url));
        let shown = format!("{:?}", cli.report);
        assert!(!shown.contains("s3cret") && shown.contains("<hidden>"), "{shown}");
    }
}
