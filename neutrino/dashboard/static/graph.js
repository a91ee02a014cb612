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

const GROUP_OVER = 6;             // more ports than this under one subnet: a grid
const CELL = { w: 96, h: 46 };    // room for a port and its two-line label

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

  // dagre lays out the graph as a tree: external networks, routers, tenant
  // networks, subnets, ports. A subnet with many ports would make one rank
  // hundreds of nodes wide, so its ports (those hanging from it alone) are
  // placed by Cytoscape's grid layout in a box that dagre reserves under it.
  layout() {
    const started = performance.now();
    const cy = this.cy;
    const groups = new Map();
    cy.nodes('.instance, .port, .dhcp').forEach((n) => {
      const from = n.incomers('edge').sources('.subnet');
      if (from.length !== 1) return;
      const list = groups.get(from.id()) || [];
      list.push(n);
      groups.set(from.id(), list);
    });
    const boxes = [];
    let grouped = cy.collection();
    for (const [sid, ports] of groups) {
      if (ports.length <= GROUP_OVER) continue;
      // taller than wide: sibling subnets sit side by side in the tree
      const cols = Math.max(2, Math.ceil(Math.sqrt(ports.length) / 1.5));
      const rows = Math.ceil(ports.length / cols);
      const box = { subnet: cy.getElementById(sid), ports: cy.collection(ports), cols, rows,
        w: cols * CELL.w, h: rows * CELL.h + 34 };
      box.subnet.style({ width: box.w, height: box.h });   // the room dagre keeps for it
      boxes.push(box);
      grouped = grouped.union(box.ports);
    }
    const backbone = cy.elements().difference(grouped).difference(grouped.connectedEdges());
    backbone.layout({ name: 'dagre', rankDir: 'TB', nodeSep: 18, rankSep: 60, edgeSep: 8,
      animate: false, fit: false }).run();
    for (const box of boxes) {
      const c = box.subnet.position();
      box.subnet.removeStyle('width height');
      box.subnet.position({ x: c.x, y: c.y - box.h / 2 + 8 });
      box.ports.layout({ name: 'grid', cols: box.cols, rows: box.rows, fit: false,
        avoidOverlap: true, condense: true, animate: false,
        boundingBox: { x1: c.x - box.w / 2, y1: c.y - box.h / 2 + 34, w: box.w, h: box.h - 34 },
      }).run();
    }
    cy.fit(undefined, 20);
    this.clamp();
    this.layoutMs = performance.now() - started;
  }

  clamp() {   // a handful of objects must not be drawn huge
    if (this.cy.zoom() > 1.2) { this.cy.zoom(1.2); this.cy.center(); }
  }

  // Apply {nodes, edges}. A new object is drawn at once next to what it
  // hangs from; the layout of the whole graph follows a moment later (dagre
  // on hundreds of nodes takes longer than the change took to arrive).
  update({ nodes, edges }) {
    const cy = this.cy;
    const first = cy.elements().empty();
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
        const parentOf = new Map(edges.map((e) => [e.data.target, e.data.source]));
        let i = 0;
        cy.add(fresh.filter((e) => e.group === 'nodes').map((e) => {
          const parent = cy.getElementById(parentOf.get(e.data.id) || '');
          const at = parent.nonempty() ? parent.position() : { x: 0, y: 0 };
          i += 1;
          return { ...e, position: { x: at.x + 30 * (i % 5), y: at.y + 70 } };
        }));
        cy.add(fresh.filter((e) => e.group === 'edges'));
        structural = true;
      }
    });
    if (structural && first) this.layout();
    else if (structural) this.relayoutSoon();
    return structural;
  }

  relayoutSoon() {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.layout(), 300);   // a burst of changes: one layout
  }

  select(id) {
    this.cy.elements().unselect();
    if (!id) return;
    const el = this.cy.getElementById(id);
    if (el.nonempty()) {
      el.select();
      // close enough to read it and its neighbours, however big the graph
      const around = el.closedNeighborhood();
      const zoom = Math.max(this.cy.zoom(), 0.9);
      this.cy.animate({ zoom: Math.min(zoom, 1.5), center: { eles: around } }, { duration: 150 });
    }
  }

  fit() { this.cy.fit(undefined, 20); this.clamp(); }
}
