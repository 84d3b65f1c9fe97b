//! CF v3 list pagination: the `page` / `per_page` query, the filters each list
//! accepts, and the `pagination` object with `first`/`last`/`next`/`previous`
//! hrefs.
//!
//! As in the real CC: `per_page` is 1..=5000 (default 50), `page` ≥ 1
//! (default 1), `total_pages` is at least 1, `next` is null on the last page
//! and `previous` null on the first. A page past the end is empty, not an
//! error. Hrefs keep the request's other query parameters as they were sent.

use serde::Serialize;

use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 5000;

/// A parsed list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: u64,
    pub per_page: u64,
    /// Filters, decoded: (name, value).
    filters: Vec<(String, String)>,
    /// Every parameter but `page` and `per_page`, as sent, for hrefs.
    kept: Vec<String>,
}

impl ListQuery {
    /// Parse a raw query string. Parameters other than `page`, `per_page` and
    /// the names in `filters` are a 400, as in the real CC.
    pub fn parse(raw: Option<&str>, filters: &[&str]) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            filters: Vec::new(),
            kept: Vec::new(),
        };
        let mut unknown = Vec::new();
        for (raw_pair, name, value) in pairs(raw) {
            match name.as_str() {
                "page" => {
                    query.page = match value.parse::<u64>() {
                        Ok(n) if n >= 1 => n,
                        _ => return Err(ApiError::bad_query("Page must be greater than 0")),
                    }
                }
                "per_page" => {
                    query.per_page = match value.parse::<u64>() {
                        Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                        _ => {
                            return Err(ApiError::bad_query(format!(
                                "Per page must be between 1 and {MAX_PER_PAGE}"
                            )))
                        }
                    }
                }
                known if filters.contains(&known) => {
                    query.filters.push((name, value));
                    query.kept.push(raw_pair.to_string());
                }
                _ => unknown.push(format!("'{name}'")),
            }
        }
        if !unknown.is_empty() {
            let mut valid = vec!["'page'".to_string(), "'per_page'".to_string()];
            valid.extend(filters.iter().map(|f| format!("'{f}'")));
            return Err(ApiError::bad_query(format!(
                "Unknown query parameter(s): {}. Valid parameters are: {}",
                unknown.join(", "),
                valid.join(", ")
            )));
        }
        Ok(query)
    }

    /// The values of a comma-separated filter, if it was given (the last
    /// occurrence wins, as in Rails).
    pub fn filter_list(&self, name: &str) -> Option<Vec<String>> {
        self.filters
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.split(',').map(str::to_string).collect())
    }

    /// How many rows precede this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    fn href(&self, base_url: &str, path: &str, page: u64) -> Link {
        let mut href = format!("{base_url}{path}?page={page}&per_page={}", self.per_page);
        for pair in &self.kept {
            href.push('&');
            href.push_str(pair);
        }
        Link { href }
    }
}

/// A `{"href": …}` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub href: String,
}

/// The `pagination` object of a list reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pagination {
    pub total_results: u64,
    pub total_pages: u64,
    pub first: Link,
    pub last: Link,
    pub next: Option<Link>,
    pub previous: Option<Link>,
}

impl Pagination {
    /// Build the object for `query` over a list of `total` items.
    /// `reported_total` is what `total_results` says; it differs from `total`
    /// only under the `understate_total_results` fault, and pages follow the
    /// truth so a client still reaches every item.
    pub fn new(
        base_url: &str,
        path: &str,
        query: &ListQuery,
        total: u64,
        reported_total: u64,
    ) -> Self {
        let total_pages = total.div_ceil(query.per_page).max(1);
        Pagination {
            total_results: reported_total,
            total_pages,
            first: query.href(base_url, path, 1),
            last: query.href(base_url, path, total_pages),
            next: (query.page < total_pages).then(|| query.href(base_url, path, query.page + 1)),
            previous: (query.page > 1).then(|| query.href(base_url, path, query.page - 1)),
        }
    }
}

/// Split a raw query into (raw pair, decoded name, decoded value).
pub fn pairs(raw: Option<&str>) -> impl Iterator<Item = (&str, String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (pair, percent_decode(name), percent_decode(value))
        })
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space). Bad
/// escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://cc.example";
    const PATH: &str = "/v3/service_instances";

    fn parse(raw: &str) -> ListQuery {
        ListQuery::parse(Some(raw), &["guids"]).unwrap()
    }

    fn bad(raw: &str) -> ApiError {
        ListQuery::parse(Some(raw), &["guids"]).unwrap_err()
    }

    #[test]
    fn defaults_are_page_1_of_50() {
        let q = ListQuery::parse(None, &[]).unwrap();
        assert_eq!((q.page, q.per_page, q.offset()), (1, 50, 0));
        let q = parse("");
        assert_eq!((q.page, q.per_page), (1, 50));
    }

    #[test]
    fn per_page_bounds() {
        assert_eq!(parse("per_page=1").per_page, 1);
        assert_eq!(parse("per_page=5000").per_page, 5000);
        for raw in [
            "per_page=0",
            "per_page=5001",
            "per_page=-1",
            "per_page=x",
            "per_page=",
        ] {
            let err = bad(raw);
            assert_eq!(err.status, 400, "{raw}");
            assert_eq!((err.code, err.title), (10005, "CF-BadQueryParameter"));
            assert!(
                err.detail.contains("Per page must be between 1 and 5000"),
                "{}",
                err.detail
            );
        }
    }

    #[test]
    fn page_must_be_positive() {
        assert_eq!(parse("page=7&per_page=10").offset(), 60);
        for raw in ["page=0", "page=-2", "page=one", "page"] {
            let err = bad(raw);
            assert_eq!(err.status, 400, "{raw}");
            assert!(
                err.detail.contains("Page must be greater than 0"),
                "{}",
                err.detail
            );
        }
        // A huge page does not overflow: it is just past the end.
        assert_eq!(
            parse("page=18446744073709551615&per_page=5000").offset(),
            u64::MAX
        );
    }

    #[test]
    fn unknown_parameters_are_named() {
        let err = bad("page=1&order_by=name&names=x");
        assert_eq!(err.status, 400);
        assert!(
            err.detail
                .contains("Unknown query parameter(s): 'order_by', 'names'"),
            "{}",
            err.detail
        );
        assert!(err.detail.contains("'guids'"), "{}", err.detail);
    }

    #[test]
    fn filters_are_decoded_and_split_on_commas() {
        let q = parse("guids=a%2Cb,c+d");
        assert_eq!(
            q.filter_list("guids"),
            Some(vec!["a".into(), "b".into(), "c d".into()])
        );
        assert_eq!(q.filter_list("names"), None);
        assert_eq!(
            parse("guids=x&guids=y").filter_list("guids"),
            Some(vec!["y".into()])
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn middle_page_links_both_ways_and_keeps_filters() {
        let q = parse("guids=a,b&page=2&per_page=3");
        let p = Pagination::new(BASE, PATH, &q, 7, 7);
        assert_eq!(p.total_results, 7);
        assert_eq!(p.total_pages, 3);
        let href = |page: u64| format!("{BASE}{PATH}?page={page}&per_page=3&guids=a,b");
        assert_eq!(p.first.href, href(1));
        assert_eq!(p.last.href, href(3));
        assert_eq!(p.next.unwrap().href, href(3));
        assert_eq!(p.previous.unwrap().href, href(1));
    }

    #[test]
    fn first_and_last_pages_have_null_ends() {
        let p = Pagination::new(BASE, PATH, &parse("per_page=3"), 7, 7);
        assert!(p.previous.is_none());
        assert_eq!(
            p.next.unwrap().href,
            format!("{BASE}{PATH}?page=2&per_page=3")
        );

        let p = Pagination::new(BASE, PATH, &parse("page=3&per_page=3"), 7, 7);
        assert!(p.next.is_none());
        assert_eq!(
            p.previous.unwrap().href,
            format!("{BASE}{PATH}?page=2&per_page=3")
        );

        let json = serde_json::to_value(Pagination::new(
            BASE,
            PATH,
            &parse("page=3&per_page=3"),
            7,
            7,
        ))
        .unwrap();
        assert!(json["next"].is_null());
    }

    #[test]
    fn total_pages_rounds_up_and_is_at_least_one() {
        let pages = |total: u64, per_page: u64| {
            Pagination::new(
                BASE,
                PATH,
                &parse(&format!("per_page={per_page}")),
                total,
                total,
            )
            .total_pages
        };
        assert_eq!(pages(0, 50), 1);
        assert_eq!(pages(1, 50), 1);
        assert_eq!(pages(50, 50), 1);
        assert_eq!(pages(51, 50), 2);
        assert_eq!(pages(6, 3), 2);

        let empty = Pagination::new(BASE, PATH, &parse(""), 0, 0);
        assert!(empty.next.is_none() && empty.previous.is_none());
        assert_eq!(empty.last.href, format!("{BASE}{PATH}?page=1&per_page=50"));
    }

    #[test]
    fn a_page_past_the_end_points_back() {
        let p = Pagination::new(BASE, PATH, &parse("page=9&per_page=3"), 7, 7);
        assert!(p.next.is_none());
        assert_eq!(
            p.previous.unwrap().href,
            format!("{BASE}{PATH}?page=8&per_page=3")
        );
    }

    #[test]
    fn understated_total_keeps_true_pages() {
        let p = Pagination::new(BASE, PATH, &parse("per_page=3"), 7, 6);
        assert_eq!(p.total_results, 6);
        assert_eq!(p.total_pages, 3);
    }
}
