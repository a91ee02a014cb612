"""The web dashboard served by neutrino-server at /dashboard/ (issue #15).

The page is static (HTML, JS, CSS and vendored Cytoscape.js + dagre, no
external network at run time); everything it shows it reads from the real
/v2.0 API with the user's token, so the API's policy decides what a user
sees. The server side adds only what the API cannot give:

  events.py   "something changed" as server-sent events, fed by the agents'
              change notifications (and successful API writes) on the bus
  inspect.py  "under the hood": the kernel objects behind a network, port or
              router, asked of each host's agent over the bus (admin only)
  lab.py      lab-only actions: create/delete an instance, ping between two
  routes.py   the routes, the login proxy, and `install` (called by build_app)
"""
