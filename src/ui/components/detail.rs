//! The detail of a clicked heat-map cell: per-class test error of that reset next to the trained
//! model's, and the unit's distances from its initial weights.

use crate::ui::view::Detail;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DetailProps {
    pub detail: Option<Detail>,
}

#[function_component(DetailPanel)]
pub fn detail_panel(props: &DetailProps) -> Html {
    let Some(d) = &props.detail else {
        return html! {
            <aside class="detail-panel empty" data-testid="detail-panel">
                { "Click a cell of the test-error map to see its per-class errors and the unit's distances." }
            </aside>
        };
    };
    let bars = d.per_class.iter().map(|(name, error, trained)| {
        let w = (error.clamp(0.0, 1.0) * 100.0).round();
        let b = (trained.clamp(0.0, 1.0) * 100.0).round();
        html! {
            <tr>
                <th>{ name.clone() }</th>
                <td class="bar-cell">
                    <div class="class-bar" style={format!("width:{w}%")}></div>
                    <div class="class-base" style={format!("left:{b}%")} title="trained model"></div>
                </td>
                <td class="num">{ format!("{:.1}%", error * 100.0) }</td>
                <td class="num muted">{ format!("{:.1}%", trained * 100.0) }</td>
            </tr>
        }
    });
    html! {
        <aside class="detail-panel" data-testid="detail-panel">
            <h3>{ d.title.clone() }</h3>
            <p>
                { format!("Test error {:.2}% (trained model {:.2}%, ", d.error * 100.0, d.baseline * 100.0) }
                <strong>{ format!("{:+.2} points", (d.error - d.baseline) * 100.0) }</strong>{ ")" }
            </p>
            if let Some(spread) = d.spread {
                <p data-testid="detail-spread">{ format!("Mean of the seeds; {}.", spread.text(crate::ui::view::Format::Percent)) }</p>
            }
            if let Some((critical, judged)) = d.critical_in {
                <p data-testid="detail-seeds">{ format!("Critical in {critical} of {judged} seeds at the current threshold.") }</p>
            }
            if let Some((l2, linf)) = d.distance {
                <p>{ format!("Distance of these weights from the unit's initial ones: ℓ2 relative {l2:.4}, ℓ∞ {linf:.4}") }</p>
            }
            <table class="per-class">
                <thead><tr><th>{ "class" }</th><th></th><th>{ "this reset" }</th><th>{ "trained" }</th></tr></thead>
                <tbody>{ for bars }</tbody>
            </table>
        </aside>
    }
}
