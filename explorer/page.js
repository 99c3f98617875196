() => {
  // A click anywhere inside the latent map's plotting area (on a point or between points) is turned
  // into the map's own coordinates through plotly's axes, kept, and handed to "Decode this point",
  // whose event takes it in place of the x and y fields (explorer/latent_map.py: TAKE_MAP_CLICK). A drag still zooms.
  let mapClick = null;
  window.vaeTakeMapClick = () => {
    const point = mapClick;
    mapClick = null;
    return point;
  };
  document.addEventListener(
    "click",
    (event) => {
      const area = event.target.closest && event.target.closest("#latent-map-plot .nsewdrag");
      if (!area) return;
      const layout = area.closest(".js-plotly-plot")._fullLayout;
      const box = area.getBoundingClientRect();
      mapClick = [layout.xaxis.p2d(event.clientX - box.left), layout.yaxis.p2d(event.clientY - box.top)];
      document.querySelector("#map-decode").click();
    },
    true,
  );

  // The URL follows the model, the tab and the Traverse code, so a link reproduces the page.
  window.vaeShare = (state) => {
    const url = new URL(window.location.href);
    for (const [key, value] of Object.entries(state)) {
      const text = Array.isArray(value) ? value.map(String).join(",") : value;
      if (text === null || text === undefined || text === "") url.searchParams.delete(key);
      else url.searchParams.set(key, text);
    }
    window.history.replaceState(null, "", url);
    return [];
  };
}
