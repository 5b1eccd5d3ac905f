//! Two results side by side, with their difference.

use crate::ui::components::heatmap::Heatmap;
use crate::ui::state::Comparison;
use crate::ui::view;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CompareProps {
    pub comparison: Comparison,
    pub on_close: Callback<()>,
}

#[function_component(ComparePanel)]
pub fn compare_panel(props: &CompareProps) -> Html {
    let Comparison { a, b } = &props.comparison;
    let mut left = view::error_map(&a.1);
    left.id = "compare-a";
    left.title = format!(
        "{}: {} (error {:.2}%)",
        a.0,
        a.1.config.label(),
        a.1.final_test_error * 100.0
    );
    let mut right = view::error_map(&b.1);
    right.id = "compare-b";
    right.title = format!(
        "{}: {} (error {:.2}%)",
        b.0,
        b.1.config.label(),
        b.1.final_test_error * 100.0
    );
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
