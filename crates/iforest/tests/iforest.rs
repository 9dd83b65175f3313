//! Integration tests of `aiops-iforest`.

mod iforest {
    mod adversarial;
    mod api;
    mod limits;
    mod model_file;
    mod odds;
    mod sklearn;
}
