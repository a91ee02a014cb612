// The topology graph: Cytoscape.js with the dagre layout (vendored, see
// vendor/VERSIONS.md). Updates are applied as a diff, so a change moves
// nothing unless objects appeared or went away.
/* global cytoscape, cytoscapeDagre */

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function style() {
  const fg = css('--fg') || '#222';
  const line = css('--line') || '#999';
  const status = {
    ACTIVE: css('--st-active'), DOWN: css('--st-down'), BUILD: css('--st-build'),
    ERROR: css('--st-error'),
  };
  return [
    { selector: 'node', style: {
      label: 'data(label)', 'font-size': 11, color: fg, 'text-wrap': 'wrap',
      'text-valign': 'bottom', 'text-margin-y': 4, 'min-zoomed-font-size': 7,
      width: 26, height: 26, 'border-width': 3, 'border-color': status.DOWN,
      'background-color': css('--n-port') } },
    { selector: 'node[status = "ACTIVE"]', style: { 'border-color': status.ACTIVE } },
    { selector: 'node[status = "BUILD"], node[status = "PENDING_CREATE"], node[status = "PENDING_UPDATE"]',
      style: { 'border-color': status.BUILD } },
    { selector: 'node[status = "ERROR"]', style: { 'border-color': status.ERROR } },
    { selector: 'node.network', style: { shape: 'round-rectangle', width: 'data(w)', height: 22,
      'background-color': css('--n-network'), 'text-valign': 'center', 'text-margin-y': 0 } },
    { selector: 'node.external', style: { 'background-color': css('--n-external') } },
    { selector: 'node.subnet', style: { shape: 'round-rectangle', width: 'data(w)', height: 16,
      'background-color': css('--n-subnet'), 'text-valign': 'center', 'text-margin-y': 0,
      'font-size': 10, 'border-width': 1 } },
    { selector: 'node.router', style: { shape: 'ellipse', width: 34, height: 34,
      'background-color': css('--n-router') } },
    { selector: 'node.instance', style: { shape: 'round-rectangle',
      'background-color': css('--n-instance') } },
    { selector: 'node.dhcp', style: { shape: 'diamond', width: 18, height: 18,
      'background-color': css('--n-dhcp'), 'font-size': 9 } },
    { selector: 'node.floatingip', style: { shape: 'tag', width: 22, height: 18,
      'background-color': css('--n-fip') } },
    { selector: 'node.loadbalancer', style: { shape: 'hexagon', 'background-color': css('--n-lb') } },
    { selector: 'node.firewall', style: { shape: 'vee', 'background-color': css('--n-fw') } },
    { selector: 'edge', style: { width: 2, 'line-color': line, 'curve-style': 'bezier',
      'target-arrow-shape': 'none', label: 'data(label)', 'font-size': 9, color: fg,
      'text-rotation': 'autorotate', 'min-zoomed-font-size': 8,
      'text-background-color': css('--bg'), 'text-background-opacity': 0.8 } },
    { selector: 'edge.gateway', style: { 'line-color': css('--n-external'), width: 3 } },
    { selector: 'edge.association', style: { 'line-style': 'dashed', 'line-color': css('--n-fip') } },
    { selector: 'edge.guards', style: { 'line-style': 'dotted', 'line-color': css('--n-fw') } },
    { selector: ':selected', style: { 'overlay-color': css('--accent'), 'overlay-opacity': 0.25,
      'overlay-padding': 6 } },
  ];
}

export class Graph {
  constructor(container, onSelect) {
    if (typeof cytoscapeDagre === 'function') cytoscape.use(cytoscapeDagre);
    this.cy = cytoscape({ container, style: style(), minZoom: 0.05,
      maxZoom: 3, boxSelectionEnabled: false, autoungrabify: false });
    this.cy.on('tap', 'node', (e) => onSelect(e.target.id()));
    this.cy.on('tap', (e) => { if (e.target === this.cy) onSelect(null); });
    window.matchMedia('(prefers-color-scheme: dark)')
      .addEventListener('change', () => this.cy.style(style()));
  }

  layout() {
    this.cy.layout({ name: 'dagre', rankDir: 'TB', nodeSep: 18, rankSep: 60, edgeSep: 8,
      animate: false, fit: true, padding: 20 }).run();
    this.clamp();
  }

  clamp() {   // a handful of objects must not be drawn huge
    if (this.cy.zoom() > 1.2) { this.cy.zoom(1.2); this.cy.center(); }
  }

  // Apply {nodes, edges}: returns true if the layout ran (something came or went).
  update({ nodes, edges }) {
    const cy = this.cy;
    const want = new Map([...nodes, ...edges].map((e) => [e.data.id, e]));
    let structural = false;
    cy.batch(() => {
      cy.elements().forEach((el) => {
        if (!want.has(el.id())) { el.remove(); structural = true; }
      });
      const fresh = [];
      for (const [id, e] of want) {
        const el = cy.getElementById(id);
        if (el.nonempty()) {
          el.data(e.data);
          el.classes(e.classes || '');
        } else {
          fresh.push(e);
        }
      }
      if (fresh.length) {
        cy.add(fresh.filter((e) => e.group === 'nodes'));
        cy.add(fresh.filter((e) => e.group === 'edges'));
        structural = true;
      }
    });
    if (structural) this.layout();
    return structural;
  }

  select(id) {
    this.cy.elements().unselect();
    if (!id) return;
    const el = this.cy.getElementById(id);
    if (el.nonempty()) {
      el.select();
      if (!this.cy.extent || this.cy.zoom() > 0) this.cy.animate({ center: { eles: el } },
        { duration: 150 });
    }
  }

  fit() { this.cy.fit(undefined, 20); this.clamp(); }
}
