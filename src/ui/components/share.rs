//! The Share button and the link it makes.

use crate::engine::link::MAX_LINK_CHARS;
use crate::ui::state::ShareLink;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The link, or why there is none, once Share was pressed.
    pub share: Option<ShareLink>,
    pub on_share: Callback<()>,
    pub on_copy: Callback<String>,
    pub on_download: Callback<()>,
}

#[function_component(SharePanel)]
pub fn share_panel(props: &ShareProps) -> Html {
    let on_share = props.on_share.clone();
    let body = match &props.share {
        None => html! {},
        Some(ShareLink::Ready(url)) => {
            let copy = {
                let on_copy = props.on_copy.clone();
                let url = url.clone();
                Callback::from(move |_: MouseEvent| on_copy.emit(url.clone()))
            };
            html! {
                <div class="share-result">
                    <input type="text" readonly=true value={url.clone()} data-testid="share-url" aria-label="share link"
                           onfocus={Callback::from(|e: FocusEvent| {
                               let input: web_sys::HtmlInputElement = e.target_unchecked_into();
                               input.select();
                           })}/>
                    <button type="button" onclick={copy}>{ "Copy" }</button>
                    <span class="muted">{ format!("{} characters: opens this result anywhere, without training.", url.len()) }</span>
                </div>
            }
        }
        Some(too_long @ ShareLink::TooLong { .. }) => {
            let download = props.on_download.clone();
            html! {
                <div class="share-result" data-testid="share-too-big">
                    <p>{ too_long.to_string() }</p>
                    <button type="button" onclick={Callback::from(move |_: MouseEvent| download.emit(()))}>{ "Download the result file instead" }</button>
                </div>
            }
        }
    };
    html! {
        <section class="share">
            <button type="button" data-testid="share" onclick={Callback::from(move |_: MouseEvent| on_share.emit(()))}
                    title={format!("A link holding this whole result (up to {MAX_LINK_CHARS} characters)")}>{ "Share result link" }</button>
            { body }
        </section>
    }
}
