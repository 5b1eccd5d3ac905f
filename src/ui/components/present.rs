//! The presentation view: the result as the hero, for a projector. One map at a time in large
//! cells with its verdicts; ← → change the map, ↑ ↓ walk the cells of the test-error map and show
//! each one's detail; Esc closes.

use crate::engine::result::ResultFile;
use crate::ui::components::heatmap::{Heatmap, svg_size};
use crate::ui::components::help::HelpButton;
use crate::ui::view::{self, HeatmapData};
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PresentProps {
    pub result: Rc<ResultFile>,
    /// 0: test error, 1: ℓ2 distance, 2: ℓ∞ distance.
    pub view: usize,
    pub selected: Option<(usize, usize)>,
    pub threshold: f64,
    pub on_close: Callback<()>,
}

/// The maps the presentation cycles through, in order.
pub fn maps(result: &ResultFile) -> [HeatmapData; 3] {
    let [l2, linf] = view::distance_maps(result);
    [view::error_map(result), l2, linf]
}

#[function_component(Presentation)]
pub fn presentation(props: &PresentProps) -> Html {
    let result = &props.result;
    let maps = maps(result);
    let index = props.view % maps.len();
    // Whichever orientation draws the cells larger in a 4:3 projector's map area (about
    // 700 × 560 px at 1024 × 768).
    let scale = |(w, h): (f64, f64)| (700.0 / w).min(560.0 / h);
    let transpose = scale(svg_size(&maps[0].transposed())) > scale(svg_size(&maps[0]));
    let map = maps[index].clone();
    let help = map.id;
    let map = if transpose { map.transposed() } else { map };
    let selected = (index == 0)
        .then_some(props.selected)
        .flatten()
        .map(|(r, c)| if transpose { (c, r) } else { (r, c) });
    let detail = props
        .selected
        .filter(|_| index == 0)
        .and_then(|(r, c)| view::detail(result, r, c, props.threshold));
    let verdicts = result.units.iter().enumerate().map(|(u, name)| {
        let verdict = result.verdict(u, props.threshold).name();
        html! { <li class={verdict} data-testid="present-verdict"><span class="unit">{ name.clone() }</span><span class="tag">{ verdict }</span></li> }
    });
    let close = props.on_close.clone();
    html! {
        <div class="presentation" role="dialog" aria-modal="true" aria-label="presentation view" data-testid="presentation" data-view={map.id}>
            <div class="present-top">
                <h2>{ format!("{} · trained test error {:.1}%", result.config.label(), result.final_test_error * 100.0) }</h2>
                <span class="present-keys">{ "← → maps · ↑ ↓ cells · Esc closes" }</span>
                <HelpButton topic={help} />
                <button type="button" data-testid="present-close" onclick={Callback::from(move |_: MouseEvent| close.emit(()))}>{ "Close" }</button>
            </div>
            <div class="present-body">
                <div class="present-map"><Heatmap data={map} selected={selected} /></div>
                <div class="present-side">
                    <ul class="verdicts present-verdicts">{ for verdicts }</ul>
                    if let Some(d) = detail {
                        <div class="present-detail" data-testid="present-detail">
                            <strong>{ d.title.clone() }</strong>
                            <span>{ format!("test error {} (trained {:.1}%)",
                                if d.error.is_finite() { format!("{:.1}%", d.error * 100.0) } else { "not computed".into() },
                                d.baseline * 100.0) }</span>
                        </div>
                    }
                </div>
            </div>
        </div>
    }
}
