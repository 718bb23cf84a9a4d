//! A real Kubernetes control plane for the cluster suites, after controller-runtime's envtest:
//! etcd, kube-apiserver and kube-controller-manager started from the envtest assets on free
//! loopback ports, one per test binary.
//!
//! [`control_plane`] decides where a suite runs:
//! 1. `KUBECONFIG` set: that cluster (nothing is started or stopped);
//! 2. else envtest assets found (`KUBEBUILDER_ASSETS`, or the workspace's sibling
//!    `../shared/envtest`, whose `start --print-assets` unpacks them): a control plane started
//!    here, on first use, shared by every test of the binary;
//! 3. else `None`, after a visible `SKIPPED` line on stderr.
//!
//! The processes are torn down when the test binary's process ends, however it ends (success,
//! panic, abort, SIGKILL): a small reaper process waits for the test process to disappear and
//! then stops them and removes the state directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where a cluster suite talks to.
pub struct ControlPlane {
    /// A kubeconfig file for an admin (`system:masters`) user.
    pub kubeconfig: PathBuf,
    /// `Some` when this process started the control plane itself.
    local: Option<Local>,
}

struct Local {
    dir: PathBuf,
    assets: PathBuf,
    etcd_port: u16,
    apiserver_port: u16,
    token: String,
    apiserver: Mutex<Child>,
    others: Vec<Child>,
}

static PLANE: OnceLock<Option<ControlPlane>> = OnceLock::new();

/// The control plane of this test binary (see the module docs), or `None` with a `SKIPPED`
/// message when there is neither a `KUBECONFIG` nor envtest assets. Panics when assets are found
/// but the control plane does not come up: a broken envtest is a failure, not a skip.
pub fn control_plane() -> Option<&'static ControlPlane> {
    PLANE
        .get_or_init(|| {
            if let Some(k) = std::env::var_os("KUBECONFIG") {
                return Some(ControlPlane { kubeconfig: PathBuf::from(k), local: None });
            }
            match find_assets() {
                Some(assets) => Some(start(&assets).unwrap_or_else(|e| panic!("envtest did not start: {e}"))),
                None => {
                    // Written to stderr directly, past the harness's capture, so the skip shows.
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED: no KUBECONFIG and no envtest assets (KUBEBUILDER_ASSETS or ../shared/envtest); \
                         the cluster suite did not run"
                    );
                    None
                }
            }
        })
        .as_ref()
}

impl ControlPlane {
    /// True when this process started the control plane (envtest), false for `KUBECONFIG`.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The API server's URL of a local control plane.
    pub fn server(&self) -> Option<String> {
        self.local.as_ref().map(|l| format!("https://127.0.0.1:{}", l.apiserver_port))
    }

    /// The state directory (logs, pki) of a local control plane.
    pub fn dir(&self) -> Option<&Path> {
        self.local.as_ref().map(|l| l.dir.as_path())
    }

    /// Stops the local kube-apiserver and starts it again on the same port over the same etcd
    /// (the clients' watches must recover by themselves); waits until it is ready.
    pub fn restart_apiserver(&self) -> Result<(), String> {
        let l = self.local.as_ref().ok_or("KUBECONFIG's cluster is not ours to restart")?;
        let mut child = l.apiserver.lock().map_err(|_| "poisoned")?;
        terminate(&mut child);
        *child = spawn_apiserver(&l.assets, &l.dir, l.etcd_port, l.apiserver_port)?;
        let mut pids: Vec<u32> = l.others.iter().map(Child::id).collect();
        pids.push(child.id());
        record_pids(&l.dir, &pids);
        wait_ready(&l.dir, l.apiserver_port, &l.token, &mut child)
    }
}

/// `KUBEBUILDER_ASSETS`, or the assets `../shared/envtest/start --print-assets` unpacks (the
/// `shared` folder beside the workspace, found from this crate upwards).
fn find_assets() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS") {
        return Some(PathBuf::from(dir));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/envtest/start"))
        .find(|p| p.is_file())?;
    let out = Command::new("bash").arg(&script).arg("--print-assets").stderr(Stdio::inherit()).output().ok()?;
    if !out.status.success() {
        panic!("{} --print-assets failed ({})", script.display(), out.status);
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr))) }
}

/// A CA, the API server's serving certificate and the service-account signing key (EC P-256:
/// milliseconds to make), with `openssl`.
fn make_pki(pki: &Path) -> Result<(), String> {
    std::fs::create_dir_all(pki).map_err(|e| e.to_string())?;
    let ossl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(pki));
    ossl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"])?;
    ossl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "365",
        "-subj",
        "/CN=polyfleet-envtest-ca",
    ])?;
    ossl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "apiserver.key"])?;
    ossl(&["req", "-new", "-key", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"])?;
    std::fs::write(
        pki.join("apiserver.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,\
         DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1\n\
         extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n",
    )
    .map_err(|e| e.to_string())?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "apiserver.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "apiserver.crt",
        "-days",
        "365",
        "-extfile",
        "apiserver.ext",
    ])?;
    ossl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"])?;
    ossl(&["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"])
}

fn log_file(dir: &Path, name: &str) -> Result<Stdio, String> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .map_err(|e| e.to_string())?;
    Ok(Stdio::from(f))
}

fn spawn_apiserver(assets: &Path, dir: &Path, etcd_port: u16, port: u16) -> Result<Child, String> {
    let pki = dir.join("pki");
    let p = |f: &str| pki.join(f).display().to_string();
    Command::new(assets.join("kube-apiserver"))
        .args([
            "--advertise-address=127.0.0.1".to_string(),
            "--bind-address=127.0.0.1".to_string(),
            format!("--secure-port={port}"),
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            format!("--cert-dir={}", pki.display()),
            format!("--tls-cert-file={}", p("apiserver.crt")),
            format!("--tls-private-key-file={}", p("apiserver.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            format!("--token-auth-file={}", p("tokens.csv")),
            "--authorization-mode=RBAC".to_string(),
            "--service-account-issuer=https://kubernetes.default.svc".to_string(),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            // Room for thousands of Services: the scale benchmark makes one per Strategy (a /24
            // ran out at about 250: "failed to allocate a serviceIP: range is full").
            "--service-cluster-ip-range=10.0.0.0/16".to_string(),
            // The API server would publish its own address (loopback here) as the `kubernetes`
            // Service's Endpoints every 10 s, and loopback is refused (422): a write attempt
            // forever, in every idle-write count. Nothing here routes to it by Endpoints.
            "--endpoint-reconciler-type=none".to_string(),
            "--allow-privileged=true".to_string(),
            "--disable-admission-plugins=ServiceAccount".to_string(),
            "--profiling=false".to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log_file(dir, "kube-apiserver")?)
        .stderr(log_file(dir, "kube-apiserver")?)
        .spawn()
        .map_err(|e| format!("kube-apiserver: {e}"))
}

/// Waits for `/readyz` to answer `ok` (60 s), failing early when the process exits.
fn wait_ready(dir: &Path, port: u16, token: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("kube-apiserver exited ({status}); log: {}/kube-apiserver.log", dir.display()));
        }
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", "--cacert"])
            .arg(dir.join("pki/ca.crt"))
            .arg("-H")
            .arg(format!("Authorization: Bearer {token}"))
            .arg(format!("https://127.0.0.1:{port}/readyz"))
            .output();
        if out.is_ok_and(|o| o.stdout == b"ok") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("kube-apiserver not ready after 60 s; log: {}/kube-apiserver.log", dir.display()));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A detached process that waits for this test process to end, then stops the pids listed in
/// `dir/pids` (TERM, KILL after 10 s) and removes `dir`. The list is rewritten whenever the API
/// server is restarted under a new pid.
fn spawn_reaper(dir: &Path) -> Result<(), String> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
        pids=$(cat "$2/pids" 2>/dev/null)
        kill -TERM $pids 2>/dev/null
        for _ in $(seq 1 20); do kill -0 $pids 2>/dev/null || break; sleep 0.5; done
        kill -KILL $pids 2>/dev/null
        rm -rf "$2"
    "#;
    Command::new("setsid")
        .args(["sh", "-c", script, "reaper", &std::process::id().to_string()])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("reaper: {e}"))
}

/// `n` random bytes from the kernel, in hex (the admin token).
fn random_hex(n: usize) -> Result<String, String> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).map_err(|e| e.to_string())?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn record_pids(dir: &Path, local: &[u32]) {
    let text: Vec<String> = local.iter().map(u32::to_string).collect();
    let _ = std::fs::write(dir.join("pids"), text.join(" "));
}

fn start(assets: &Path) -> Result<ControlPlane, String> {
    let t0 = Instant::now();
    let base = std::env::var_os("POLYFLEET_ENVTEST_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("polyfleet-envtest-{}-{}", std::process::id(), crate::free_port()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    spawn_reaper(&dir)?;
    make_pki(&dir.join("pki"))?;
    let token = random_hex(24)?;
    std::fs::write(dir.join("pki/tokens.csv"), format!("{token},polyfleet-envtest-admin,1,system:masters\n"))
        .map_err(|e| e.to_string())?;

    let (etcd_port, peer_port) = (crate::free_port(), crate::free_port());
    let etcd = Command::new(assets.join("etcd"))
        .args([
            "--name=default".to_string(),
            format!("--data-dir={}", dir.join("etcd-data").display()),
            format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log_file(&dir, "etcd")?)
        .stderr(log_file(&dir, "etcd")?)
        .spawn()
        .map_err(|e| format!("etcd: {e}"))?;
    let mut pids = vec![etcd.id()];
    record_pids(&dir, &pids);
    crate::wait_for_port(etcd_port, "etcd");

    let apiserver_port = crate::free_port();
    let mut apiserver = spawn_apiserver(assets, &dir, etcd_port, apiserver_port)?;
    pids.push(apiserver.id());
    record_pids(&dir, &pids);
    wait_ready(&dir, apiserver_port, &token, &mut apiserver)?;

    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: https://127.0.0.1:{apiserver_port}\n    \
             certificate-authority: {}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: envtest\n  \
             context:\n    cluster: envtest\n    user: admin\n    namespace: default\ncurrent-context: envtest\n",
            dir.join("pki/ca.crt").display()
        ),
    )
    .map_err(|e| e.to_string())?;

    let pki = dir.join("pki");
    let kcm = Command::new(assets.join("kube-controller-manager"))
        .args([
            format!("--kubeconfig={}", kubeconfig.display()),
            "--leader-elect=false".to_string(),
            "--secure-port=0".to_string(),
            "--controllers=*,-bootstrapsigner,-tokencleaner".to_string(),
            format!("--service-account-private-key-file={}", pki.join("sa.key").display()),
            format!("--root-ca-file={}", pki.join("ca.crt").display()),
            "--use-service-account-credentials=false".to_string(),
            format!("--cluster-signing-cert-file={}", pki.join("ca.crt").display()),
            format!("--cluster-signing-key-file={}", pki.join("ca.key").display()),
        ])
        .stdin(Stdio::null())
        .stdout(log_file(&dir, "kube-controller-manager")?)
        .stderr(log_file(&dir, "kube-controller-manager")?)
        .spawn()
        .map_err(|e| format!("kube-controller-manager: {e}"))?;
    pids.push(kcm.id());
    record_pids(&dir, &pids);
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "envtest: control plane ready in {:.1} s at https://127.0.0.1:{apiserver_port} (state in {})",
            t0.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(ControlPlane {
        kubeconfig,
        local: Some(Local {
            dir,
            assets: assets.to_path_buf(),
            etcd_port,
            apiserver_port,
            token,
            apiserver: Mutex::new(apiserver),
            others: vec![etcd, kcm],
        }),
    })
}
