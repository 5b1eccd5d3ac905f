//! Short explanations in the page's own words: a "?" beside each map, and the first-visit guide.

use yew::prelude::*;

/// What a map or idea means, in a few sentences.
pub fn explanation(topic: &str) -> &'static str {
    match topic {
        "error" => {
            "Each row is one layer (a “unit”). Each cell is the test error after putting that one layer back to \
             its weights at a checkpoint (the column: 0 is the random start) while every other layer keeps its \
             trained weights, with no retraining. ReRnd puts fresh random weights in instead. The fullmodel row \
             resets every layer at once. A layer is robust when resetting it to its start barely changes the \
             error, and critical when the error jumps."
        }
        "l2" => {
            "How far each layer moved from its initial weights during training: the ℓ2 norm of the change, \
             relative to the size of the initial weights. Layers can move a lot and still be robust: distance \
             alone does not tell which layers matter."
        }
        "joint" => {
            "Each row is a set of layers reset together (the joint sets in the experiment's settings, e.g. \
             layer2,layer3), every other layer trained. Two layers that are each robust alone can be critical \
             together: this map shows whether they are."
        }
        "interpolation" => {
            "Each row moves one layer along the straight line from its random start (α = 0) to its trained \
             weights (α = 1), every other layer trained. The α* beside a layer's verdict is the smallest α from \
             which on the error stays within the threshold of the trained model: how far a layer must travel \
             before the network works again (“module criticality”, Chatterji, Neyshabur & Sedghi). Critical \
             layers need a large α*, robust ones a small one."
        }
        "study" => {
            "Each row is one network of a study (made with `layerlab study`, e.g. depth 2, 3, 5 and 8), each \
             column a layer, each cell the test error with that layer put back to its random start while the \
             rest stays trained. The paper found that as fully connected networks get deeper, the first layer \
             stays critical and the added layers are robust. Click a row to see that network's own maps."
        }
        "seeds" => {
            "This result is the mean of several training runs that differ only in their seed (the random \
             start, the order of the examples, the fresh draws of ReRnd). Hover a cell for its spread over the \
             seeds; each verdict says in how many seeds the layer is critical."
        }
        "linf" => {
            "The largest change of any single weight of the layer since the start (ℓ∞ distance). Like the ℓ2 \
             map, it shows movement, not importance."
        }
        _ => {
            "LayerLab trains a network, then resets one layer at a time and measures the test error without \
             retraining. In “Are All Layers Created Equal?” (Zhang, Bengio & Singer), only the first layer of a \
             fully connected network on MNIST is critical: the others can go back to their random start and \
             the network still works. Re-randomizing (ReRnd, fresh random weights) breaks almost every layer. \
             In VGG networks the early convolutions are critical and the later ones and the dense layers robust."
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct HelpProps {
    pub topic: &'static str,
}

/// A "?" that opens the explanation of `topic` in place.
#[function_component(HelpButton)]
pub fn help_button(props: &HelpProps) -> Html {
    let open = use_state(|| false);
    let toggle = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(!*open))
    };
    html! {
        <span class="help">
            <button type="button" class="help-button" aria-expanded={(*open).to_string()} title="What does this show?"
                    data-testid={format!("help-{}", props.topic)} onclick={toggle}>{ "?" }</button>
            if *open {
                <span class="help-text" role="note" data-testid={format!("help-text-{}", props.topic)}>{ explanation(props.topic) }</span>
            }
        </span>
    }
}
