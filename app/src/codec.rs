//! How server functions take their arguments: as leptos's own `GetUrl` and `Json` codecs do,
//! except that an argument that cannot be read is reported with the path of the field it was
//! in (`filter.sort: unknown variant ...`), so the caller's 400 says what to fix.

use leptos::server_fn::codec::{Encoding, Post};
use leptos::server_fn::error::{FromServerFnError, IntoAppError, ServerFnErrorErr};
use leptos::server_fn::request::{ClientReq, Req};
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Arguments as the query string of a `GET` request. The codec's traits may only be
/// implemented for named types, so each GET server function's argument type opts in with
/// [`query_args!`](crate::query_args) next to it.
pub struct Query;

/// Arguments as the JSON body of a `POST` request.
pub type Json = Post<JsonArgs>;

pub struct JsonArgs;

/// An argument that could not be read, with the path to it when there is one.
fn describe<E: std::fmt::Display>(err: serde_path_to_error::Error<E>) -> String {
    let path = err.path().to_string();
    if path == "." {
        err.into_inner().to_string()
    } else {
        format!("{path}: {}", err.into_inner())
    }
}

const QUERY_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Nesting deeper than any argument of ours goes is refused rather than parsed.
const MAX_QUERY_DEPTH: usize = 5;

impl ContentType for Query {
    const CONTENT_TYPE: &'static str = QUERY_CONTENT_TYPE;
}

impl Encoding for Query {
    const METHOD: http::Method = http::Method::GET;
}

/// The request [`Query`] sends for `args` (in the browser).
pub fn query_request<T, R, E>(args: &T, path: &str, accepts: &str) -> Result<R, E>
where
    T: Serialize,
    R: ClientReq<E>,
    E: FromServerFnError,
{
    let query = serde_qs::to_string(args)
        .map_err(|e| ServerFnErrorErr::Serialization(e.to_string()).into_app_error())?;
    R::try_new_get(path, QUERY_CONTENT_TYPE, accepts, &query)
}

/// The arguments [`Query`] reads from a request (on the server).
pub fn query_args<T, R, E>(req: &R) -> Result<T, E>
where
    T: DeserializeOwned,
    R: Req<E>,
    E: FromServerFnError,
{
    decode_query(req.as_query().unwrap_or_default())
        .map_err(|e| ServerFnErrorErr::Args(e).into_app_error())
}

fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    let config = serde_qs::Config::new(MAX_QUERY_DEPTH, false);
    let deserializer = serde_qs::Deserializer::with_config(&config, query.as_bytes())
        .map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize(deserializer).map_err(describe)
}

/// Lets a GET server function's arguments (the type `#[server]` generates, named after the
/// function in CamelCase) travel as a [`Query`].
#[macro_export]
macro_rules! query_args {
    ($args:ty) => {
        impl<E, R> leptos::server_fn::codec::IntoReq<$crate::codec::Query, R, E> for $args
        where
            R: leptos::server_fn::request::ClientReq<E>,
            E: leptos::server_fn::error::FromServerFnError,
        {
            fn into_req(self, path: &str, accepts: &str) -> Result<R, E> {
                $crate::codec::query_request(&self, path, accepts)
            }
        }

        impl<E, R> leptos::server_fn::codec::FromReq<$crate::codec::Query, R, E> for $args
        where
            R: leptos::server_fn::request::Req<E> + Send + 'static,
            E: leptos::server_fn::error::FromServerFnError,
        {
            async fn from_req(req: R) -> Result<Self, E> {
                $crate::codec::query_args(&req)
            }
        }
    };
}

impl ContentType for JsonArgs {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonArgs {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonArgs {
    type Error = serde_json::Error;

    fn encode(args: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(args).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonArgs {
    type Error = String;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer).map_err(describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Args {
        filter: Filter,
    }

    #[derive(Debug, Deserialize)]
    struct Filter {
        sort: Sort,
        limit: u32,
    }

    #[derive(Debug, Deserialize)]
    enum Sort {
        #[serde(rename = "newest")]
        Newest,
    }

    #[test]
    fn good_arguments_are_read_from_either_codec() {
        let args = decode_query::<Args>("filter[sort]=newest&filter[limit]=5").unwrap();
        assert!(matches!(args.filter.sort, Sort::Newest));
        assert_eq!(args.filter.limit, 5);
        let body = Bytes::from_static(br#"{"filter":{"sort":"newest","limit":7}}"#);
        let args = <JsonArgs as Decodes<Args>>::decode(body).unwrap();
        assert_eq!(args.filter.limit, 7);
    }

    #[test]
    fn a_bad_query_argument_names_its_field() {
        let err = decode_query::<Args>("filter[sort]=id;drop&filter[limit]=5").unwrap_err();
        assert!(
            err.starts_with("filter.sort: unknown variant `id;drop`"),
            "{err}"
        );
        let err = decode_query::<Args>("filter[sort]=newest&filter[limit]=many").unwrap_err();
        assert!(err.starts_with("filter.limit: "), "{err}");
    }

    #[test]
    fn a_bad_json_argument_names_its_field() {
        let body = Bytes::from_static(br#"{"filter":{"sort":"newest","limit":"5"}}"#);
        let err = <JsonArgs as Decodes<Args>>::decode(body).unwrap_err();
        assert!(
            err.starts_with("filter.limit: invalid type: string"),
            "{err}"
        );
        let err = <JsonArgs as Decodes<Args>>::decode(Bytes::from_static(b"garbage")).unwrap_err();
        assert!(err.starts_with("expected value"), "{err}");
    }
}
