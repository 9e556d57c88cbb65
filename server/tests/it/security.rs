//! Headers every response carries, whatever answered it.

use crate::common;

#[tokio::test]
async fn every_response_carries_the_security_headers_and_hsts_only_over_tls() {
    let server = common::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A page, a redirect to sign in, a server function, the appliance API, health, a 404.
    for path in [
        "/login",
        "/sites",
        "/api/get_overview",
        "/api/v1/checkin",
        "/api/health",
        "/no/such/page",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let permissions = headers["permissions-policy"].to_str().unwrap();
        assert!(permissions.contains("camera=()"), "{path}: {permissions}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{path}: no HSTS over plain HTTP"
        );
    }
    let behind_tls = client
        .get(server.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        behind_tls.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}
