// The console's only script besides htmx: "select all" on the exception desk.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.classList || !box.classList.contains("select-all")) return;
  var form = box.closest("form");
  form.querySelectorAll('input[name="ids"]:not(:disabled)').forEach(function (item) {
    item.checked = box.checked;
  });
});
