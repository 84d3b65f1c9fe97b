//! Connections to one instance's server, authenticated as one of its users.

use std::time::Duration;

use mongodb::bson::doc;
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::options::{ClientOptions, Credential, ServerAddress};
use mongodb::Client;

/// Server selection and connect timeout of every connection made here.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Who logs in, and the database their user lives in.
pub(crate) struct Login<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub source: &'a str,
}

fn options(host: &str, port: u16, credential: Option<Credential>) -> ClientOptions {
    ClientOptions::builder()
        .hosts(vec![ServerAddress::Tcp {
            host: host.to_string(),
            port: Some(port),
        }])
        .app_name("node-mongodb".to_string())
        .direct_connection(true)
        .connect_timeout(TIMEOUT)
        .server_selection_timeout(TIMEOUT)
        .credential(credential)
        .build()
}

/// A client that does not log in. Nothing is sent until the first command.
pub(crate) fn anonymous(host: &str, port: u16) -> Result<Client, MongoError> {
    Client::with_options(options(host, port, None))
}

/// True when the server refused the login (rather than being unreachable).
pub(crate) fn is_auth_error(e: &MongoError) -> bool {
    const AUTHENTICATION_FAILED: i32 = 18;
    match e.kind.as_ref() {
        ErrorKind::Authentication { .. } => true,
        ErrorKind::Command(c) => c.code == AUTHENTICATION_FAILED,
        _ => false,
    }
}

/// A client logged in as `login`, checked with a `ping`.
pub(crate) async fn login(host: &str, port: u16, login: &Login<'_>) -> Result<Client, MongoError> {
    let credential = Credential::builder()
        .username(login.user.to_string())
        .password(login.password.to_string())
        .source(login.source.to_string())
        .build();
    let client = Client::with_options(options(host, port, Some(credential)))?;
    client
        .database(login.source)
        .run_command(doc! { "ping": 1 })
        .await?;
    Ok(client)
}

/// A client logged in with a binding's credentials (or the instance's own).
/// The password never appears in an error.
pub async fn connect(creds: &proto::Credentials) -> anyhow::Result<Client> {
    let port = u16::try_from(creds.port)?;
    let who = Login {
        user: &creds.username,
        password: &creds.password,
        source: &creds.name,
    };
    login(&creds.host, port, &who).await.map_err(|e| {
        anyhow::anyhow!(
            "login as {} failed: {}",
            creds.username,
            node_core::secret::scrub(&e.to_string(), &[&creds.password])
        )
    })
}
