//! `mongo-check < credentials.json`: logs in with a binding's credentials
//! (the JSON the broker returns: host, port, username, password, name),
//! writes a document and reads it back. Exit 0 when that works. The
//! credentials come on stdin so the password never shows in `ps`.

use std::io::Read;

use mongodb::bson::doc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    match check().await {
        Ok(()) => println!("ok"),
        Err(e) => {
            eprintln!("mongo-check: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn check() -> anyhow::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let creds = proto::Credentials {
        host: field("host"),
        port: v.get("port").and_then(|p| p.as_u64()).unwrap_or(0) as u32,
        username: field("username"),
        password: field("password"),
        name: field("name"),
        uri: String::new(),
    };
    let client = node_mongodb::connect(&creds).await?;
    let coll = client
        .database(&creds.name)
        .collection::<mongodb::bson::Document>("mongo_check");
    coll.insert_one(doc! { "check": "ok" }).await?;
    let found = coll.find_one(doc! { "check": "ok" }).await?;
    anyhow::ensure!(found.is_some(), "document not found after insert");
    Ok(())
}
