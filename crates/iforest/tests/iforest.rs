//! Integration tests of `aiops-iforest`.

mod iforest {
    mod adversarial;
    mod api;
    mod model_file;
    mod odds;
    mod sklearn;
}
