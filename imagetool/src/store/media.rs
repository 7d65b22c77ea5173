//! Media types we accept for manifests, and the check that a manifest body
//! is what its Content-Type / descriptor says it is (CVE-2021-41190).

use oci_spec::image::MediaType;

use super::StoreError;

pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What the registry `Accept` header lists, most preferred first.
pub const MANIFEST_ACCEPT: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2,
    // Listed so a schema1-only registry answers with it and we can say so
    // clearly instead of failing on an odd body.
    DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V1,
];

/// The two shapes of manifest we handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image manifest (OCI or Docker schema2).
    Manifest,
    /// An index / manifest list.
    Index,
}

/// Kind of a media type string, `None` if it is not a manifest type.
pub fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST_V2 => Some(Kind::Manifest),
        OCI_INDEX | DOCKER_MANIFEST_LIST => Some(Kind::Index),
        _ => None,
    }
}

/// Kind of an oci-spec media type.
pub fn kind_of_mt(mt: &MediaType) -> Option<Kind> {
    kind_of(mt.as_ref())
}

/// The fields of a manifest body that tell its shape.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    layers: Option<serde_json::Value>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
    #[serde(rename = "fsLayers")]
    fs_layers: Option<serde_json::Value>,
}

/// Decide what a manifest body is, given the type its source claims
/// (`Content-Type` from a registry, or the descriptor that pointed at it;
/// `None` or `application/json` when unknown). Refuses bodies that are
/// ambiguous (both `layers` and `manifests`), disagree with the claim, or
/// carry a `mediaType` field that disagrees with either.
/// Returns the kind and the media type to record in descriptors.
pub fn classify(claimed: Option<&str>, body: &[u8]) -> Result<(Kind, String), StoreError> {
    let claimed = claimed
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
    if let Some(c) = claimed.as_deref() {
        if c == DOCKER_MANIFEST_V1 || c == DOCKER_MANIFEST_V1_SIGNED {
            return Err(StoreError::Schema1);
        }
    }
    let shape: Shape = serde_json::from_slice(body)
        .map_err(|e| StoreError::BadManifest(format!("not a JSON manifest: {e}")))?;
    if shape.fs_layers.is_some() || shape.schema_version == Some(serde_json::json!(1)) {
        return Err(StoreError::Schema1);
    }
    if shape.schema_version != Some(serde_json::json!(2)) {
        return Err(StoreError::BadManifest("schemaVersion is not 2".into()));
    }
    if shape.layers.is_some() && shape.manifests.is_some() {
        return Err(StoreError::MediaTypeConfusion(
            "manifest has both `layers` and `manifests`".into(),
        ));
    }
    let body_kind = if shape.manifests.is_some() {
        Kind::Index
    } else if shape.layers.is_some() || shape.config.is_some() {
        Kind::Manifest
    } else {
        return Err(StoreError::BadManifest(
            "neither `layers` nor `manifests` present".into(),
        ));
    };
    let mut mt: Option<String> = None;
    for source in [claimed.as_deref(), shape.media_type.as_deref()]
        .into_iter()
        .flatten()
    {
        let k = kind_of(source).ok_or_else(|| StoreError::UnknownMediaType(source.to_string()))?;
        if k != body_kind {
            return Err(StoreError::MediaTypeConfusion(format!(
                "{source} does not describe a body shaped like {body_kind:?}"
            )));
        }
        if let Some(prev) = &mt {
            if prev != source {
                return Err(StoreError::MediaTypeConfusion(format!(
                    "claimed {prev} but body says {source}"
                )));
            }
        }
        mt = Some(source.to_string());
    }
    // umoci writes manifests without `mediaType`; default to the OCI type.
    let mt = mt.unwrap_or_else(|| {
        match body_kind {
            Kind::Manifest => OCI_MANIFEST,
            Kind::Index => OCI_INDEX,
        }
        .to_string()
    });
    Ok((body_kind, mt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layers_and_manifests_refused() {
        let b = br#"{"schemaVersion":2,"layers":[],"manifests":[]}"#;
        assert!(matches!(
            classify(Some(OCI_MANIFEST), b),
            Err(StoreError::MediaTypeConfusion(_))
        ));
    }

    #[test]
    fn claimed_index_but_manifest_body_refused() {
        let b = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert!(matches!(
            classify(Some(OCI_INDEX), b),
            Err(StoreError::MediaTypeConfusion(_))
        ));
    }

    #[test]
    fn body_media_type_disagreeing_refused() {
        let b = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_V2}","config":{{}},"layers":[]}}"#
        );
        assert!(matches!(
            classify(Some(OCI_MANIFEST), b.as_bytes()),
            Err(StoreError::MediaTypeConfusion(_))
        ));
    }

    #[test]
    fn umoci_style_manifest_without_media_type() {
        let b = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        let (k, mt) = classify(
            Some("application/vnd.oci.image.manifest.v1+json; charset=x"),
            b,
        )
        .unwrap();
        assert_eq!(k, Kind::Manifest);
        assert_eq!(mt, OCI_MANIFEST);
        assert_eq!(classify(None, b).unwrap().0, Kind::Manifest);
    }

    #[test]
    fn schema1_refused_clearly() {
        let b = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(matches!(
            classify(Some(DOCKER_MANIFEST_V1_SIGNED), b),
            Err(StoreError::Schema1)
        ));
        assert!(matches!(classify(None, b), Err(StoreError::Schema1)));
    }

    #[test]
    fn unknown_type_refused() {
        let b = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert!(matches!(
            classify(Some("application/x-foo"), b),
            Err(StoreError::UnknownMediaType(_))
        ));
    }
}
