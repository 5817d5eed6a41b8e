//! Starting the example product next to a real `usage-server demo`.

use product_backend::{app, Product, Usage, UsageConfig};
use serde_json::Value;
use support::server::TestServer;

/// The product on a free loopback port, configured from the demo's file.
pub async fn start_product(server: &TestServer) -> String {
    let text = std::fs::read_to_string(server.data_dir().join("demo.json")).expect("demo.json");
    let demo: Value = serde_json::from_str(&text).expect("demo.json is JSON");
    let field = |name: &str| demo[name].as_str().expect(name).to_owned();
    let product = Product::new(Usage::new(UsageConfig {
        url: field("url"),
        org: field("org"),
        tokens_key: field("tokens_key"),
        admin_key: field("service_key"),
    }));
    product.sync_directory().await.expect("directory pushed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app(product)).await });
    format!("http://{addr}")
}
