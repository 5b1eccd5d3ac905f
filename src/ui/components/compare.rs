//! Two results side by side, with their difference.

use crate::engine::result::ResultFile;
use crate::ui::components::heatmap::Heatmap;
use crate::ui::state::Comparison;
use crate::ui::view;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CompareProps {
    pub comparison: Comparison,
    pub on_close: Callback<()>,
}

#[function_component(ComparePanel)]
pub fn compare_panel(props: &CompareProps) -> Html {
    let Comparison { a, b } = &props.comparison;
    let titled = |id: &'static str, (name, result): &(String, Rc<ResultFile>)| {
        let mut map = view::error_map(result);
        map.id = id;
        map.title = format!(
            "{name}: {} (error {:.2}%)",
            result.config.label(),
            result.final_test_error * 100.0
        );
        map
    };
    let left = titled("compare-a", a);
    let right = titled("compare-b", b);
    let difference = view::difference_map(&a.1, &b.1);
    let close = props.on_close.clone();
    html! {
        <section class="compare" data-testid="comparison">
            <h2>{ "Comparison" }<button type="button" onclick={Callback::from(move |_: MouseEvent| close.emit(()))}>{ "Close" }</button></h2>
            <div class="maps">
                <Heatmap data={left} />
                <Heatmap data={right} />
                if let Some(d) = difference {
                    <Heatmap data={d} />
                } else {
                    <p class="muted">{ "These two runs share no units or checkpoints to subtract." }</p>
                }
            </div>
        </section>
    }
}
