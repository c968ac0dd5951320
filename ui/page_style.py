"""The page's look (``CSS``) and its script (``JS``), given to gradio as launch options."""

# Colours: each highlight sets its own text colour, so its contrast is known in both modes (gradio puts the class
# "dark" on the page in dark mode, following the system's setting). WCAG 2 contrast ratios (AA for text: at least
# 4.5:1), computed from the relative luminance of each pair; "bubble" is the answer's bubble as the browser draws it
# (light #fafafa, dark #18181b), "panel" a block such as the Timeline's (light #ffffff, dark at most #27272a):
#   light: factoid span #1f2937 on #ffe58f 11.8; quoted sentence #1f2937 on #fef08a 12.6; date tag #065f46 on
#          #ecfdf5 7.3; [n] links and "Read the article" #1d4ed8 on bubble 6.4 (panel 6.7); struck-out furniture,
#          notes and meta #4b5563 on bubble 7.2 (panel 7.6); context sentences #374151 on bubble 9.9; "does not
#          say" #92400e on bubble 6.8
#   dark:  factoid span #fef3c7 on #854d0e 6.2; quoted sentence #fefce8 on #713f12 8.4; date tag #a7f3d0 on
#          #064e3b 7.6; [n] links #93c5fd on bubble 9.8 (panel 8.3); struck-out furniture, notes and meta #a1a1aa
#          on bubble 6.9 (panel 5.8); context sentences #d4d4d8 on bubble 12.0 (panel 10.1); "does not say"
#          #fcd34d on bubble 12.3 (panel 10.3)
CSS = """
.qa-answer { line-height: 1.55; margin: 2px 0 6px 0; }
.qa-answer mark, .qa-passage strong { background: #ffe58f; color: #1f2937; font-weight: 700; padding: 0 2px; }
a.qa-ref, a.qa-ref:visited, .qa-n { color: #1d4ed8; font-weight: 600; white-space: nowrap; text-decoration: none; }
a.qa-ref:hover, a.qa-ref:focus-visible { text-decoration: underline; }
.qa-meta, .qa-note { color: #4b5563; font-size: 0.85em; margin: 2px 0; }
.qa-note { font-style: italic; }
.qa-group { margin: 6px 0 10px 0; }
.qa-group-head { margin: 0; font-size: 0.9em; }
.qa-sources-head { margin: 8px 0 2px 0; }
details.qa-source { border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 8px; margin: 4px 0;
  scroll-margin-top: 8px; }
details.qa-source summary, details.qa-article summary { cursor: pointer; }
details.qa-article { margin: 4px 0 6px 0; }
details.qa-article > summary { color: #1d4ed8; font-weight: 600; }
.qa-fulltext { max-height: 480px; overflow-y: auto; padding: 4px 8px; line-height: 1.55;
  border-left: 3px solid #d1d5db; }
.qa-passage { margin: 6px 0; padding-left: 10px; border-left: 3px solid #93c5fd; }
mark.qa-quote { background: #fef08a; color: #1f2937; }
del.qa-furniture { color: #4b5563; text-decoration: line-through; }
.qa-context { color: #374151; }
.qa-scores { font-family: ui-monospace, monospace; font-size: 0.8em; color: #374151; }
.qa-abstain { color: #92400e; }
.qa-when { font-family: ui-monospace, monospace; font-size: 0.8em; color: #065f46; background: #ecfdf5;
           border-radius: 4px; padding: 0 4px; white-space: nowrap; }
ol.qa-timeline li { margin: 4px 0; line-height: 1.5; }
ul.qa-skipped { margin: 0 0 4px 1.2em; font-size: 0.85em; }
#qa-feedback-status { font-size: 0.85em; }
/* The table's columns have fixed widths in pixels (column_widths), so on a narrow screen it scrolls sideways
   instead of squeezing names into columns of single characters; in a cell words wrap whole, and only a name longer
   than its column breaks (a header never). The text font, narrower than the table's monospace, fits more in. */
#qa-collection .table-wrap * { font-family: var(--font); }
#qa-collection th span { word-break: normal; overflow-wrap: normal; }

/* One selector per .dark rule: gradio scopes custom CSS and keeps the "dark" class in front only for a rule's first
   selector. */
.dark :is(.qa-answer mark, .qa-passage strong) { background: #854d0e; color: #fef3c7; }
.dark mark.qa-quote { background: #713f12; color: #fefce8; }
.dark :is(a.qa-ref, a.qa-ref:visited, .qa-n, details.qa-article > summary) { color: #93c5fd; }
.dark :is(.qa-meta, .qa-note, del.qa-furniture) { color: #a1a1aa; }
.dark :is(.qa-context, .qa-scores) { color: #d4d4d8; }
.dark .qa-abstain { color: #fcd34d; }
.dark .qa-when { color: #a7f3d0; background: #064e3b; }
.dark :is(details.qa-source, .qa-fulltext) { border-color: #52525b; }
.dark .qa-passage { border-left-color: #1d4ed8; }

/* A phone: the question box stays on the first screen under a shorter chat. */
@media (max-width: 640px) {
  #qa-chat { height: calc(100dvh - 330px) !important; min-height: 240px; }
  #qa-intro p { display: none; }
}
"""

# Runs once when the page has loaded (the `js` launch option).
JS = """
() => {
  // A [n] marker links to its source's id: open that source and bring it into view (a closed <details> would
  // otherwise be scrolled to but stay shut).
  document.addEventListener("click", (event) => {
    const ref = event.target.closest ? event.target.closest("a.qa-ref") : null;
    const source = ref && document.getElementById((ref.getAttribute("href") || "").slice(1));
    if (!source) return;
    event.preventDefault();
    event.stopPropagation();
    source.open = true;
    // Once the chat has laid out the opened block (it may scroll itself when its content grows), scroll the chat,
    // not the whole page, to put the source at its top.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      let box = source.parentElement;
      while (box && !(/(auto|scroll)/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight)) {
        box = box.parentElement;
      }
      // (40 px: below the chat's own label and buttons, drawn over its top)
      if (box) box.scrollTop += source.getBoundingClientRect().top - box.getBoundingClientRect().top - 40;
      else source.scrollIntoView({block: "start"});
    }));
  }, true);
}
"""
